"""Import (admin and finance): load a Xero invoice/bill CSV export; admins can also ask n8n for a sync now."""

import pandas as pd
import streamlit as st

from milestone import config, observability
from milestone.errors import DatabaseUnavailable, MilestoneError, RateLimited, RowProblems
from milestone.formatting import as_text
from milestone.services import access, imports, sync
from milestone.ui.common import clear_caches, current_user, freshness_banner

KINDS = {"auto": "From the Type column", "invoices": "All invoices (sales)", "bills": "All bills (purchases)"}
DETECT, NONE = "(detect)", "(none)"

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
base = config.base_currency()
st.caption(
    "In Xero: Business > Invoices (or Bills to pay) > Export, as CSV; or a file in Xero's import template layout. "
    "Each line is a line item with its own project and phase, from the tracking categories (a line with no "
    "project is an overhead, 'Unallocated'). Projects and phases the file names that Milestone does not have "
    "are listed, with the client taken from the document's contact, and created with the documents when you "
    "tick the box. Overpayments and prepayments are not sales or costs: they are skipped and listed. "
    f"The P&L is in {base}: documents in another currency need a rate below, or they are skipped and listed. "
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
with st.expander("Currency rates, template status and tracking categories", expanded=False):
    rates_text = st.text_input(
        f"Rates: the {base} value of one unit of each currency",
        key="import_rates",
        placeholder="EUR=0.85, USD=0.79",
        help="CURRENCY=RATE, separated by commas. A document in a currency with no rate is skipped and listed.",
    )
    template_status = st.selectbox(
        "Status of an import template's documents (the template has none)",
        list(imports.TEMPLATE_STATUSES),
        key="import_template_status",
        help="Draft and Awaiting Approval documents are stored but do not count in the P&L.",
    )
    seen = st.session_state.get("import_categories", [])
    project_choice = st.selectbox("Tracking category of the projects", [DETECT, *seen], key="import_project_category")
    phase_choice = st.selectbox("Tracking category of the phases", [DETECT, *seen, NONE], key="import_phase_category")


def _category(choice: str | None) -> str | None:
    if choice in (None, DETECT) or (choice != NONE and choice not in seen):
        return None
    return imports.NO_CATEGORY if choice == NONE else choice


if upload is not None:
    data = upload.getvalue()
    try:
        rates = imports.parse_rates(rates_text or "", "Rates")
    except RowProblems as exc:
        st.error("The rates are not right: " + as_text("; ".join(exc.problems)) + ". Nothing was checked.")
        st.stop()
    options = imports.ImportOptions(
        rates=rates,
        template_status=template_status or "Draft",
        project_category=_category(project_choice),
        phase_category=_category(phase_choice),
    )
    check_key = (
        upload.name,
        upload.size,
        kind,
        hash(data),
        tuple(sorted(rates.items())),
        options.template_status,
        options.project_category,
        options.phase_category,
    )
    if st.session_state.get("import_checked", (None,))[0] != check_key:
        bar = st.progress(0.0, text="Checking the file…")
        try:
            preview = imports.import_file(
                data,
                upload.name,
                user,
                kind=kind,
                dry_run=True,
                progress=lambda f, text: bar.progress(f, text=text),
                options=options,
            )
            st.session_state["import_checked"] = (check_key, preview, None)
            if preview.categories != seen:
                st.session_state["import_categories"] = preview.categories
                bar.empty()
                st.rerun()  # offer the file's tracking categories in the choices above
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
        if preview.categories:
            st.caption(
                f"Tracking: the projects are {as_text(preview.project_category or '(none)')}, the phases "
                f"{as_text(preview.phase_category or '(none)')} (change it under the options above)."
            )
        if preview.template:
            st.caption(
                f"An import template: its documents are stored as {as_text(options.template_status)}, "
                "with amounts from their lines."
            )
        for note in preview.notes:
            st.caption(as_text(note))
        create = False
        if preview.new_names:
            st.warning(as_text(preview.new_names))
            st.dataframe(
                pd.DataFrame({"Project": list(preview.new_projects), "Client": list(preview.new_projects.values())}),
                hide_index=True,
                width="stretch",
            )
            create = st.checkbox("Create the new projects and phases with the documents", key="import_create")
        if not preview.skipped.empty:
            st.caption(f"{len(preview.skipped):,} documents will be skipped:")
            st.dataframe(
                preview.skipped,
                hide_index=True,
                width="stretch",
                column_config={
                    "type": "Type",
                    "number": "Number",
                    "contact": "Contact",
                    "date": "Date",
                    "currency": "Currency",
                    "total": st.column_config.NumberColumn("Total", format="%.2f"),
                    "reason": "Why",
                    "line": "Line",
                },
            )
        if not preview.foreign.empty:
            st.caption(f"Documents in another currency (converted to {base} at the rate given):")
            st.dataframe(
                preview.foreign.assign(
                    total=preview.foreign["total"].astype(float),
                    rate=preview.foreign["rate"].astype(float),
                    base_total=preview.foreign["base_total"].astype(float),
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "kind": "What",
                    "number": "Number",
                    "party": "Contact",
                    "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                    "currency": "Currency",
                    "total": st.column_config.NumberColumn("Total", format="%.2f"),
                    "rate": st.column_config.NumberColumn("Rate", format="%.6f"),
                    "base_total": st.column_config.NumberColumn(f"Total in {base}", format="%.2f"),
                },
            )
        if not preview.reconciliation.empty:
            st.caption("Reconciliation per Type (totals in the documents' own currency):")
            st.dataframe(
                preview.reconciliation.assign(
                    **{
                        c: preview.reconciliation[c].astype(float)
                        for c in ("in_file_total", "imported_total", "unchanged_total", "skipped_total")
                    }
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "type": "Type",
                    "currency": "Currency",
                    "in_file": "In the file",
                    "in_file_total": st.column_config.NumberColumn("Total in the file", format="%.2f"),
                    "new": "New",
                    "updated": "Updated",
                    "unchanged": "Unchanged",
                    "skipped": "Skipped",
                    "imported_total": st.column_config.NumberColumn("New or updated total", format="%.2f"),
                    "unchanged_total": st.column_config.NumberColumn("Unchanged total", format="%.2f"),
                    "skipped_total": st.column_config.NumberColumn("Skipped total", format="%.2f"),
                    "skipped_because": "Skipped because",
                },
            )
        if not preview.changes.empty:
            st.caption(f"The first {len(preview.changes):,} new or changed documents:")
            st.dataframe(
                preview.changes.assign(total=[f"{v:,.2f} {base}" for v in preview.changes["total"]]),
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
        blocked = bool(preview.new_names) and not create
        if st.button(
            f"Import {changed:,} new or changed documents",
            type="primary",
            disabled=not changed or blocked,
            key="import_confirm",
            help="Tick the box above to create the new projects and phases first." if blocked else None,
        ):
            bar = st.progress(0.0, text="Checking the file again and importing…")
            options.create_projects = create
            try:
                done = imports.import_file(
                    data,
                    upload.name,
                    user,
                    kind=kind,
                    dry_run=False,
                    progress=lambda f, text: bar.progress(f, text=text),
                    options=options,
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
                created = f" Created {as_text(done.new_names)}." if done.new_names else ""
                st.session_state["import_done"] = f"{as_text(upload.name)}: {done.summary}{created}"
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
            "skipped": "Skipped",
            "projects_created": "New projects",
            "phases_created": "New phases",
        },
    )
