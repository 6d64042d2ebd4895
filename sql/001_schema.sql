-- 001 schema: the tables of docs/design.md ("Data model"), with every rule as a constraint.
-- Money is numeric(14,2); keys are uuid from core gen_random_uuid() (no extension needed).

CREATE SCHEMA IF NOT EXISTS milestone;
SET LOCAL search_path = milestone, public;

CREATE TABLE app_users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username        text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
    display_name    text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 255),
    email           text CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+$'),
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'finance', 'viewer')),
    disabled        boolean NOT NULL DEFAULT false,
    must_change_password boolean NOT NULL DEFAULT false,
    failed_logins   integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    first_failed_at timestamptz,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid REFERENCES app_users (id) ON DELETE SET NULL,  -- owner; null for a synced project nobody owns yet
    name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    client_name      text NOT NULL CHECK (char_length(client_name) BETWEEN 1 AND 255),
    status           text NOT NULL DEFAULT 'Planning'
                     CHECK (status IN ('Planning', 'In Progress', 'Completed', 'On Hold')),
    start_date       date,
    end_date         date,
    budget_revenue   numeric(14,2) CHECK (budget_revenue >= 0),
    budget_cost      numeric(14,2) CHECK (budget_cost >= 0),
    xero_tracking_id text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL DEFAULT 1,
    CONSTRAINT projects_dates_ordered CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX projects_user_status_idx ON projects (user_id, status);
CREATE INDEX projects_dates_idx ON projects (start_date, end_date);
CREATE INDEX projects_active_idx ON projects (client_name, name) WHERE status IN ('Planning', 'In Progress');

CREATE TABLE build_phases (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 100),
    display_order integer NOT NULL DEFAULT 0,
    colour        text NOT NULL DEFAULT '#888888' CHECK (colour ~ '^#[0-9A-Fa-f]{6}$'),
    active        boolean NOT NULL DEFAULT true
);

CREATE TABLE invoices (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    build_phase_id uuid REFERENCES build_phases (id) ON DELETE SET NULL,
    xero_id        text NOT NULL UNIQUE,
    number         text,
    contact        text,
    issue_date     date NOT NULL,
    due_date       date,
    status         text NOT NULL CHECK (status IN ('Draft', 'Submitted', 'Authorised', 'Paid', 'Voided')),
    doc_type       text NOT NULL DEFAULT 'invoice' CHECK (doc_type IN ('invoice', 'credit_note')),
    subtotal       numeric(14,2) NOT NULL CHECK (subtotal >= 0),
    total_tax      numeric(14,2) NOT NULL DEFAULT 0,
    total          numeric(14,2) NOT NULL CHECK (total >= 0),
    amount_due     numeric(14,2) NOT NULL DEFAULT 0 CHECK (amount_due >= 0),
    currency       char(3) NOT NULL DEFAULT 'GBP',
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_project_date_idx ON invoices (project_id, issue_date);
CREATE INDEX invoices_unpaid_idx ON invoices (project_id, due_date) INCLUDE (amount_due, doc_type)
    WHERE status = 'Authorised';

CREATE TABLE bills (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    build_phase_id uuid REFERENCES build_phases (id) ON DELETE SET NULL,
    xero_id        text NOT NULL UNIQUE,
    number         text,
    supplier       text,
    date           date NOT NULL,
    due_date       date,
    status         text NOT NULL CHECK (status IN ('Draft', 'Submitted', 'Authorised', 'Paid', 'Voided')),
    doc_type       text NOT NULL DEFAULT 'bill' CHECK (doc_type IN ('bill', 'credit_note')),
    subtotal       numeric(14,2) NOT NULL CHECK (subtotal >= 0),
    total_tax      numeric(14,2) NOT NULL DEFAULT 0,
    total          numeric(14,2) NOT NULL CHECK (total >= 0),
    amount_due     numeric(14,2) NOT NULL DEFAULT 0 CHECK (amount_due >= 0),
    currency       char(3) NOT NULL DEFAULT 'GBP',
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bills_project_date_idx ON bills (project_id, date);

CREATE TABLE estimates (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    build_phase_id uuid REFERENCES build_phases (id) ON DELETE SET NULL,
    kind           text NOT NULL CHECK (kind IN ('revenue', 'cost')),
    description    text NOT NULL CHECK (char_length(description) BETWEEN 1 AND 500),
    amount         numeric(14,2) NOT NULL CHECK (amount > 0 AND amount <= 100000000000),
    date           date NOT NULL,
    created_by     text,
    updated_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    version        integer NOT NULL DEFAULT 1
);
CREATE INDEX estimates_project_idx ON estimates (project_id);
CREATE INDEX estimates_date_idx ON estimates (date);

-- Derived: one row per project, equal to the P&L definitions at every commit (see 002).
CREATE TABLE project_metrics (
    project_id        uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    revenue           numeric(14,2) NOT NULL DEFAULT 0,
    costs             numeric(14,2) NOT NULL DEFAULT 0,
    estimate_revenue  numeric(14,2) NOT NULL DEFAULT 0,
    estimate_costs    numeric(14,2) NOT NULL DEFAULT 0,
    outstanding       numeric(14,2) NOT NULL DEFAULT 0,
    invoice_count     integer NOT NULL DEFAULT 0,
    bill_count        integer NOT NULL DEFAULT 0,
    profit            numeric(14,2) GENERATED ALWAYS AS (revenue - costs) STORED,
    forecast_revenue  numeric(14,2) GENERATED ALWAYS AS (revenue + estimate_revenue) STORED,
    forecast_costs    numeric(14,2) GENERATED ALWAYS AS (costs + estimate_costs) STORED,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Covering index: the dashboard's project table is an index-only scan.
CREATE INDEX project_metrics_covering_idx ON project_metrics (project_id)
    INCLUDE (revenue, costs, estimate_revenue, estimate_costs, outstanding, profit);

-- One row per project and build phase (build_phase_id null = "Unassigned").
CREATE TABLE project_phase_metrics (
    project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    build_phase_id    uuid REFERENCES build_phases (id) ON DELETE CASCADE,
    revenue           numeric(14,2) NOT NULL DEFAULT 0,
    costs             numeric(14,2) NOT NULL DEFAULT 0,
    estimate_revenue  numeric(14,2) NOT NULL DEFAULT 0,
    estimate_costs    numeric(14,2) NOT NULL DEFAULT 0,
    profit            numeric(14,2) GENERATED ALWAYS AS (revenue - costs) STORED,
    forecast_revenue  numeric(14,2) GENERATED ALWAYS AS (revenue + estimate_revenue) STORED,
    forecast_costs    numeric(14,2) GENERATED ALWAYS AS (costs + estimate_costs) STORED,
    CONSTRAINT project_phase_metrics_key UNIQUE NULLS NOT DISTINCT (project_id, build_phase_id)
);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    row_id     uuid,
    user_id    text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    old_data   jsonb,
    new_data   jsonb
);
CREATE INDEX audit_log_table_row_idx ON audit_log (table_name, row_id, changed_at);
CREATE INDEX audit_log_changed_at_idx ON audit_log (changed_at);

CREATE TABLE sync_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
    rows_created  integer NOT NULL DEFAULT 0 CHECK (rows_created >= 0),
    rows_updated  integer NOT NULL DEFAULT 0 CHECK (rows_updated >= 0),
    rows_failed   integer NOT NULL DEFAULT 0 CHECK (rows_failed >= 0),
    error         text,
    CONSTRAINT sync_runs_finished CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX sync_runs_started_idx ON sync_runs (started_at DESC);

CREATE TABLE export_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text NOT NULL,
    table_name   text NOT NULL,
    format       text NOT NULL CHECK (format IN ('csv', 'xlsx', 'pdf')),
    filters      jsonb NOT NULL DEFAULT '{}',
    row_count    integer NOT NULL DEFAULT 0,
    exported_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_preferences (
    user_id            uuid PRIMARY KEY REFERENCES app_users (id) ON DELETE CASCADE,
    saved_views        jsonb NOT NULL DEFAULT '{}',   -- {"view name": {filters...}}
    default_view       text,
    favourite_projects uuid[] NOT NULL DEFAULT '{}',
    date_format        text NOT NULL DEFAULT '%d %b %Y',
    updated_at         timestamptz NOT NULL DEFAULT now()
);
