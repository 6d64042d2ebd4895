"""Import (admin and finance): load a Xero invoice/bill CSV export; admins can also ask n8n for a sync now."""

import pandas as pd
import streamlit as st

from milestone import config, observability
from milestone.errors import DatabaseUnavailable, MilestoneError, RateLimited, RowProblems
from milestone.formatting import as_text
from milestone.services import access, imports, sync
from milestone.ui.common import clear_caches, current_user, freshness_banner

KINDS = {"auto": "From the Type column", "invoices": "All invoices (sales)", "bills": "All bills (purchases)"}

st.title("Import from Xero")
freshness_banner()
user = current_user()
if user.role not in access.WRITE_ROLES:  # the page registry hides this page; belt and braces
    st.error("Only admins and finance staff can import.")
    st.stop()


def _ask_for_sync() -> None:
    """Runs before the page redraws, so the button below already shows the new cooldown."""
    try:
        st.session_state["sync_note"] = ("success", sync.request_sync(user))
    except MilestoneError as exc:  # refused, not allowed, or the database is down
        st.session_state["sync_note"] = ("error", as_text(exc))


if user.role == "admin":
    st.subheader("Sync from Xero now")
    kind_of_note, note = st.session_state.pop("sync_note", (None, None))
    if note:
        (st.success if kind_of_note == "success" else st.error)(note)
    allowed, reason = sync.availability()
    st.button(
        "Ask n8n to sync now",
        icon=":material/sync:",
        disabled=not allowed,
        key="sync_now",
        on_click=_ask_for_sync,
        help="Starts the n8n Xero sync workflow; at most one request every 10 minutes.",
    )
    if reason:
        st.caption(reason)

st.subheader("Import a CSV file")
st.caption(
    "In Xero: Business > Invoices (or Bills to pay) > Export, as CSV. Needed columns: ContactName, "
    "InvoiceNumber (or InvoiceID), InvoiceDate, Total, TaxTotal (or SubTotal), InvoiceAmountDue and Status, "
    "and the project as a tracking category (TrackingName1 = Project, TrackingOption1 = the project) or a "
    "Project column; optional: InvoiceID, DueDate, Currency (GBP only), Type, and a Phase tracking category. "
    "Each line is a line item with its own project and phase (a line with no project is an overhead, "
    "'Unallocated') and its LineAmount and TaxAmount (LineAmountTypes: Exclusive unless the file says "
    "Inclusive or NoTax); a document's lines must add up to its SubTotal. "
    "The whole file is checked first: if any line is wrong, nothing is imported. Importing the same file "
    "again changes nothing."
)
done_note = st.session_state.pop("import_done", None)
if done_note:
    st.success(done_note)
kind = st.radio("The lines are", list(KINDS), format_func=KINDS.get, horizontal=True, key="import_kind")
# a new key after each import empties the uploader, so the finished file's preview does not linger
upload = st.file_uploader(
    "Xero CSV export",
    type=["csv"],
    key=f"import_file_{st.session_state.get('import_round', 0)}",
    max_upload_size=config.import_max_mb(),  # checked by `serve`
    help="Larger files: export a shorter date range from Xero and import the parts.",
)

if upload is not None:
    data = upload.getvalue()
    check_key = (upload.name, upload.size, kind, hash(data))
    if st.session_state.get("import_checked", (None,))[0] != check_key:
        bar = st.progress(0.0, text="Checking the file…")
        try:
            preview = imports.import_file(
                data, upload.name, user, kind=kind, dry_run=True, progress=lambda f, text: bar.progress(f, text=text)
            )
            st.session_state["import_checked"] = (check_key, preview, None)
        except RowProblems as exc:
            st.session_state["import_checked"] = (check_key, None, exc.problems)
        except MilestoneError as exc:  # not allowed, or the database is down
            if isinstance(exc, DatabaseUnavailable):
                observability.report_error(exc.__cause__ or exc)
            bar.empty()
            why = "the database did not answer; try again in a minute" if isinstance(exc, DatabaseUnavailable) else exc
            st.error(f"The file could not be checked: {as_text(why)}. Nothing was imported.")
            st.stop()
        bar.empty()
    _, preview, problems = st.session_state["import_checked"]
    if problems:
        many = len(problems) != 1
        st.error(
            f"Nothing was imported: {as_text(upload.name)} has {len(problems)} problem{'s' if many else ''}. "
            f"Fix {'them' if many else 'it'} in the file and upload it again."
        )
        st.dataframe(
            pd.DataFrame({"Problem": problems}),
            hide_index=True,
            width="stretch",
            height=min(400, 38 + 35 * len(problems)),
        )
    elif preview is not None:
        st.info(preview.summary + " Nothing has been written yet.")
        for note in preview.notes:
            st.caption(note)
        if not preview.changes.empty:
            st.caption(f"The first {len(preview.changes):,} new or changed documents:")
            st.dataframe(
                preview.changes.assign(total=[f"£{v:,.2f}" for v in preview.changes["total"]]),
                hide_index=True,
                width="stretch",
                column_config={
                    "change": "Change",
                    "kind": "What",
                    "number": "Number",
                    "party": "Contact",
                    "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                    "status": "Status",
                    "total": st.column_config.TextColumn("Total"),
                    "project": "Project",
                },
            )
        changed = preview.created + preview.updated
        if st.button(
            f"Import {changed:,} new or changed documents", type="primary", disabled=not changed, key="import_confirm"
        ):
            bar = st.progress(0.0, text="Checking the file again and importing…")
            try:
                done = imports.import_file(
                    data,
                    upload.name,
                    user,
                    kind=kind,
                    dry_run=False,
                    progress=lambda f, text: bar.progress(f, text=text),
                )
            except RowProblems as exc:
                failure = "Nothing was imported: " + as_text("; ".join(exc.problems))
            except RateLimited as exc:
                failure = f"Too many changes in a minute: nothing was imported. Try again in {exc.retry_after_s} s."
            except DatabaseUnavailable as exc:  # a statement timeout, the database gone: reported, then said
                observability.report_error(exc.__cause__ or exc)
                failure = (
                    "Nothing was imported: the database could not finish the change. "
                    "Upload the file again to re-check it."
                )
            except MilestoneError as exc:
                failure = f"Nothing was imported. {as_text(exc)}"
            else:
                clear_caches()  # the dashboard's cached numbers and charts are out of date now
                st.session_state.pop("import_checked", None)
                st.session_state["import_round"] = st.session_state.get("import_round", 0) + 1
                st.session_state["import_done"] = f"{upload.name}: {done.summary}"
                st.rerun()
            bar.empty()
            st.session_state.pop("import_checked", None)  # the preview may be stale: check the file again
            st.error(failure)

st.subheader("Recent imports")
history = imports.history(50)
if history.empty:
    st.caption("No file imported yet.")
else:
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        column_config={
            "imported_at": st.column_config.DatetimeColumn("When", format="DD/MM/YYYY HH:mm"),
            "username": "Who",
            "file_name": "File",
            "rows_read": "Lines",
            "created": "New",
            "updated": "Updated",
            "unchanged": "Unchanged",
        },
    )
