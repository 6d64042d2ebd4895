"""The estimates grid: edit like a spreadsheet, then validate everything and save it at once.

The grid's rows are loaded once into session_state and kept until a save, a discard or a
filter change: the editor's edits are positions in that frame, so it must not shift under them.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from milestone.errors import Conflict, MilestoneError, RowProblems
from milestone.formatting import as_text, project_labels
from milestone.services import estimates, pnl
from milestone.services.access import WRITE_ROLES
from milestone.ui.common import clear_caches, current_user
from milestone.validation import EstimateChanges, Filters, estimate_row

# What the grid shows, in order: the columns people edit most come first, so Description,
# Amount and Date are on screen at 1280 px without scrolling sideways.
_COLUMNS = ["project_label", "description", "amount", "date", "kind", "phase", "client", "updated_by"]
MAX_GRID_ROWS = 2_000  # a grid holds at most this many rows; the rest are reached by narrowing


@st.cache_data(ttl=300, max_entries=4)
def _choices():
    opts = pnl.filter_options()
    projects = opts["projects"]
    labels = project_labels(projects["id"], projects["client_name"], projects["name"])
    clients = dict(zip(projects["id"], projects["client_name"]))
    phases = {"Unassigned": None} | dict(zip(opts["phases"]["name"], opts["phases"]["id"]))
    return labels, clients, phases


def _load(filters: Filters, kind: str | None) -> tuple[pd.DataFrame, int]:
    """The grid's rows (at most MAX_GRID_ROWS) and how many estimates match in all."""
    labels, _, _ = _choices()
    frame, total = estimates.first_estimates(filters, kind, MAX_GRID_ROWS)
    frame["project_label"] = [labels.get(p, p) for p in frame["project_id"]]
    frame["amount"] = [float(a) for a in frame["amount"]]
    return frame.reset_index(drop=True), total


def _changes(frame: pd.DataFrame, state: dict) -> EstimateChanges:
    """Turn the editor's edit state into validated changes, or raise RowProblems listing every problem."""
    labels, _, phases = _choices()
    by_label = {v: k for k, v in labels.items()}
    problems: list[str] = []
    changes = EstimateChanges()

    def values(row: dict) -> dict:
        phase = row.get("phase")
        return {"project_id": by_label.get(row.get("project_label")), "kind": row.get("kind"),
                "build_phase_id": phases.get(phase) if phase else None, "description": row.get("description"),
                "amount": row.get("amount"), "date": row.get("date")}

    for idx, edits in sorted(state.get("edited_rows", {}).items(), key=lambda kv: int(kv[0])):
        base = frame.iloc[int(idx)]
        merged = {c: base[c] for c in _COLUMNS} | edits
        if merged.get("phase") not in phases:
            problems.append(f"Row {int(idx) + 1}, Build phase: choose one of the listed phases")
            continue
        row, errs = estimate_row(values(merged), f"Row {int(idx) + 1}")
        if row and row.project_id != base["project_id"]:
            errs = [f"Row {int(idx) + 1}, Project: an estimate cannot move to another project; "
                    "delete it and add a new row instead"]
        problems += errs
        if row and not errs:
            changes.updates.append((base["id"], int(base["version"]), row))
    for n, added in enumerate(state.get("added_rows", []), start=1):
        merged = {"phase": "Unassigned"} | added
        row, errs = estimate_row(values(merged), f"New row {n}")
        problems += errs
        if row:
            changes.inserts.append((None, row))
    for idx in state.get("deleted_rows", []):
        base = frame.iloc[int(idx)]
        changes.deletes.append((base["id"], int(base["version"])))
    if problems:
        raise RowProblems(problems)
    return changes


def render_estimates_editor(filters: Filters = Filters(), *, kind: str | None = None, key: str = "estimates_editor",
                            project_id: str | None = None) -> None:
    """The editable grid with Save / Discard; read-only for viewers."""
    user = current_user()
    if project_id:
        filters = filters.model_copy(update={"project_ids": (project_id,)})
    loaded_key = f"{key}__loaded"
    signature = (filters.model_dump_json(), kind)
    if st.session_state.get(loaded_key, (None,))[0] != signature:
        st.session_state[loaded_key] = (signature, *_load(filters, kind))
        st.session_state.pop(key, None)
    # The frame stays as loaded until saved or discarded: edits are positions in it.
    _, frame, total = st.session_state[loaded_key]
    if total > len(frame):
        st.warning(f"{total:,} estimates match; the grid holds the first {len(frame):,} (by client, project and "
                   "date). Choose a client or a project, or shorten the dates, to reach the others.")
    labels, _, phases = _choices()
    can_edit = user.role in WRITE_ROLES
    if project_id:
        default_label = labels.get(project_id)
    if note := st.session_state.pop(f"{key}__saved", None):
        st.success(note)
    st.data_editor(  # edits are read back from its state (positions in the loaded frame)
        frame[_COLUMNS], key=key, num_rows="dynamic" if can_edit else "fixed", disabled=not can_edit,
        hide_index=True, width="stretch", height=min(38 * (len(frame) + 2), 560) if len(frame) else 160,
        column_config={
            "project_label": st.column_config.SelectboxColumn(
                "Project", options=[default_label] if project_id else list(labels.values()), required=True,
                default=default_label if project_id else None, width="medium"),
            "client": st.column_config.TextColumn("Client", disabled=True),
            "kind": st.column_config.SelectboxColumn("Kind", options=["revenue", "cost"], required=True),
            "phase": st.column_config.SelectboxColumn("Build phase", options=list(phases), default="Unassigned"),
            "description": st.column_config.TextColumn("Description", max_chars=500, required=True, width="medium"),
            "amount": st.column_config.NumberColumn("Amount (£)", min_value=0.01, max_value=100_000_000_000,
                                                    step=0.01, format="£%,.2f", required=True),  # always > 0
            "date": st.column_config.DateColumn("Expected", format="DD/MM/YYYY", required=True,
                                                default=date.today()),
            "updated_by": st.column_config.TextColumn("Last changed by", disabled=True),
        })
    if not can_edit:
        st.caption("Read-only: only finance staff and admins change estimates.")
        return
    state = st.session_state.get(key, {})
    pending = sum(len(state.get(k, [])) for k in ("edited_rows", "added_rows", "deleted_rows"))
    c1, c2, c3 = st.columns([1, 1, 4])
    save = c1.button("Save changes", type="primary", key=f"{key}__save", disabled=not pending)
    if c2.button("Discard changes", key=f"{key}__discard", disabled=not pending):
        st.session_state.pop(loaded_key, None)
        st.session_state.pop(key, None)
        st.rerun()
    c3.caption(f"{pending} unsaved change{'s' if pending != 1 else ''}" if pending else "No unsaved changes")
    if not save:
        return
    try:
        result = estimates.save_estimate_changes(_changes(frame, state), user)
    except RowProblems as exc:
        st.error("Nothing was saved. Please fix these and save again:\n\n" + "\n".join(f"- {as_text(p)}" for p in exc.problems))
        return
    except Conflict as exc:
        st.error(as_text(exc))
        if not exc.rows.empty:
            st.dataframe(exc.rows.drop(columns=["id"]), hide_index=True, width="stretch")
        return
    except MilestoneError as exc:  # not allowed, too many saves, or the database is down
        st.error(f"Nothing was saved. {as_text(exc)}.")
        return
    clear_caches()
    st.session_state.pop(loaded_key, None)
    st.session_state.pop(key, None)
    st.session_state[f"{key}__saved"] = result.summary
    st.rerun()


def render_history(key: str = "est_history") -> None:
    """Who saved what, with old -> new values, and Undo for admins and each save's author."""
    user = current_user()
    saves = estimates.estimate_saves()
    if saves.empty:
        st.info("No changes to estimates yet.")
        return
    who = st.selectbox("Changed by", ["Everyone"] + sorted(set(saves["user"])), key=f"{key}_who")
    if who != "Everyone":
        saves = saves[saves["user"] == who]
    for n, save in enumerate(saves.head(20).itertuples()):
        at = save.changed_at.to_pydatetime()
        title = (f"{at.astimezone():%d %b %Y %H:%M:%S} · {save.user} · "
                 f"{save.updated} updated, {save.added} added, {save.deleted} deleted")
        with st.expander(title):
            details = estimates.estimate_save_details(at, save.user)
            rows = []
            for d in details.itertuples():
                old, new = d.old_data or {}, d.new_data or {}
                changed = [k for k in ("description", "amount", "date", "kind", "build_phase_id")
                           if old.get(k) != new.get(k)] if d.operation == "UPDATE" else []
                rows.append({"Change": d.operation.title(), "Estimate": (new or old).get("description", "")[:80],
                             "Before": ", ".join(f"{k}: {old.get(k)}" for k in changed) or
                                       (f"{old.get('amount')} on {old.get('date')}" if old else ""),
                             "After": ", ".join(f"{k}: {new.get(k)}" for k in changed) or
                                      (f"{new.get('amount')} on {new.get('date')}" if new else "")})
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            if user.role == "admin" or user.username == save.user:
                if st.button("Undo this save", key=f"{key}_undo_{n}"):
                    try:
                        result = estimates.undo_estimate_save(at, save.user, user)
                        clear_caches()
                        st.session_state.pop("estimates_editor__loaded", None)
                        st.success("Undone. " + result.summary)
                    except MilestoneError as exc:
                        st.error(as_text(exc))
