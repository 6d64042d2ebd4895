-- 014 currencies: a document in a foreign currency is stored in the base currency (the setting
-- MILESTONE_BASE_CURRENCY, GBP by default) with what it was in its own currency beside it.
--
-- The existing amount columns (subtotal, total_tax, total, amount_due; line_amount, tax_amount)
-- keep holding BASE-currency amounts, so the P&L, pnl_monthly and its triggers, the lines-add-up
-- check and every report read them unchanged. A base-currency document has currency_rate 1 and
-- null original_* columns (its amounts are its own). docs/design.md, "Currencies", says how the
-- amounts are converted and rounded (the lines' base amounts add up exactly to the base subtotal).
SET LOCAL search_path = milestone, public;

-- currency_rate: base-currency units for one unit of the document's currency (EUR 0.85: 1 EUR is
-- 0.85 GBP). Xero's API CurrencyRate is the other way round (units of the document's currency
-- per base unit): the sync stores 1 / CurrencyRate (docs/xero-sync.md).
ALTER TABLE invoices
    ADD COLUMN currency_rate       numeric(20,10) NOT NULL DEFAULT 1 CHECK (currency_rate > 0),
    ADD COLUMN original_subtotal   numeric(14,2) CHECK (original_subtotal >= 0),
    ADD COLUMN original_total_tax  numeric(14,2),
    ADD COLUMN original_total      numeric(14,2) CHECK (original_total >= 0),
    ADD COLUMN original_amount_due numeric(14,2) CHECK (original_amount_due >= 0);
ALTER TABLE bills
    ADD COLUMN currency_rate       numeric(20,10) NOT NULL DEFAULT 1 CHECK (currency_rate > 0),
    ADD COLUMN original_subtotal   numeric(14,2) CHECK (original_subtotal >= 0),
    ADD COLUMN original_total_tax  numeric(14,2),
    ADD COLUMN original_total      numeric(14,2) CHECK (original_total >= 0),
    ADD COLUMN original_amount_due numeric(14,2) CHECK (original_amount_due >= 0);
-- A line's amounts in its document's currency (null: the same as line_amount / tax_amount).
ALTER TABLE invoice_lines
    ADD COLUMN original_line_amount numeric(14,2),
    ADD COLUMN original_tax_amount  numeric(14,2);
ALTER TABLE bill_lines
    ADD COLUMN original_line_amount numeric(14,2),
    ADD COLUMN original_tax_amount  numeric(14,2);

-- What a confirmed import also did: documents left out (overpayments, prepayments, foreign
-- documents without a rate) and the projects and phases it created from tracking options.
ALTER TABLE import_runs
    ADD COLUMN skipped          integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    ADD COLUMN projects_created integer NOT NULL DEFAULT 0 CHECK (projects_created >= 0),
    ADD COLUMN phases_created   integer NOT NULL DEFAULT 0 CHECK (phases_created >= 0);
