"""Translated labels for every coded value shown on screen or offered in a form: one source for both."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATE = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "screened": _l("Screened"),
    "returned": _l("Returned"),
    "queued": _l("Queued for panel"),
    "assigned": _l("Panel assigned"),
    "in_review": _l("In review"),
    "proposed": _l("Decision proposed"),
    "issued": _l("Decision issued"),
    "settled": _l("Settled"),
    "selected": _l("Selected for sampling"),
    "awaiting_records": _l("Awaiting records"),
    "records_missing": _l("Records missing"),
    "records_received": _l("Records received"),
    "appealed": _l("Appealed"),
    "in_appeal_review": _l("In appeal review"),
    "appeal_proposed": _l("Appeal decision proposed"),
    "withdrawn": _l("Withdrawn"),
}

STATUS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "not_started": _l("Not started"),
    "active": _l("Active"),
    "recused": _l("Recused"),
    "proposed": _l("Proposed"),
    "issued": _l("Issued"),
    "superseded": _l("Superseded by a later version"),
    "awaiting_approval": _l("Correction awaiting approval"),
    "discarded": _l("Correction rejected or withdrawn"),
    "open": _l("In progress"),
    "uploaded": _l("Uploaded, not started"),
    "queued": _l("Waiting to start"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Nothing imported"),
    "cancelled": _l("Cancelled"),
    "closed": _l("Closed"),
}

OUTCOME = {
    "approved": _l("Approved"),
    "partially_approved": _l("Partially approved"),
    "rejected": _l("Rejected"),
    "confirmed": _l("Coding confirmed"),
    "regrouped": _l("Regrouped: payment adjusted"),
    "admission_unjustified": _l("Admission not justified: payment recovered"),
}

RECOMMENDATION = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
}

ACTION = {
    "submit": _l("submit"),
    "screen": _l("screen"),
    "return_ineligible": _l("return as ineligible"),
    "queue": _l("queue for a panel"),
    "override_eligibility": _l("override the screening"),
    "assign": _l("assign a panel"),
    "start_review": _l("start the review"),
    "propose": _l("propose a decision"),
    "issue": _l("issue the decision"),
    "settle": _l("settle"),
    "appeal": _l("appeal"),
    "start_appeal_review": _l("start the appeal review"),
    "propose_appeal": _l("propose the appeal decision"),
    "withdraw": _l("withdraw"),
    "request_records": _l("request the records"),
    "receive_records": _l("receive the records"),
    "mark_records_missing": _l("mark the records missing"),
    "correct": _l("correct the decision"),
}

ROLE = {
    "hospital": _l("Hospital insurance office"),
    "expert": _l("Review expert"),
    "staff": _l("Review office staff"),
    "admin": _l("Administrator"),
    "auditor": _l("Auditor"),
    "system": _l("System"),
}

CATEGORY = {
    "high_cost": _l("High cost"),
    "long_stay": _l("Long stay"),
    "icu_heavy": _l("ICU-heavy stay"),
    "complex_care": _l("Complex multi-disciplinary care"),
    "newborn": _l("Very-low-birth-weight newborn"),
    "new_technology": _l("New drug or technology"),
}

DOC_TYPE = {
    "admission_record": _l("Admission record"),
    "discharge_summary": _l("Discharge summary"),
    "front_page": _l("Medical-record front page"),
    "progress_notes": _l("Progress notes"),
    "orders": _l("Orders"),
    "lab_reports": _l("Lab reports"),
    "operative_record": _l("Operative record"),
    "special_items": _l("Special drugs / consumables list"),
    "other": _l("Other"),
    "decision_letter": _l("Decision letter"),
    "appeal_evidence": _l("Appeal document"),
}

SEX = {
    "M": _l("Male"),
    "F": _l("Female"),
    "U": _l("Unknown"),
}

NUMBER = {
    "total_cost": _l("total cost"),
    "threshold": _l("threshold"),
    "los_days": _l("length of stay (days)"),
    "icu_days": _l("ICU days"),
    "share": _l("ICU share"),
    "average_cost": _l("DRG average cost"),
    "ratio": _l("ratio to average"),
    "justification_chars": _l("characters in the reason"),
}

TITLE = {
    "chief_physician": _l("Chief physician"),
    "deputy_chief_physician": _l("Associate chief physician"),
    "attending_physician": _l("Attending physician"),
    "resident_physician": _l("Resident physician"),
}

SPECIALTY = {
    "cardiology": _l("Cardiology"),
    "neurology": _l("Neurology"),
    "general_surgery": _l("General surgery"),
    "orthopaedics": _l("Orthopaedics"),
    "oncology": _l("Oncology"),
    "respiratory": _l("Respiratory medicine"),
    "critical_care": _l("Critical care medicine"),
    "neonatology": _l("Neonatology"),
    "nephrology": _l("Nephrology"),
    "gastroenterology": _l("Gastroenterology"),
    "ophthalmology": _l("Ophthalmology"),
    "otolaryngology": _l("Otolaryngology"),
    "dermatology": _l("Dermatology"),
    "endocrinology": _l("Endocrinology"),
    "urology": _l("Urology"),
    "gynaecology": _l("Gynaecology"),
    "obstetrics": _l("Obstetrics"),
    "haematology": _l("Haematology"),
    "infectious_disease": _l("Infectious diseases"),
    "psychiatry": _l("Psychiatry"),
    "burns": _l("Burns and plastic surgery"),
    "general_medicine": _l("General medicine"),
}

HOSPITAL_LEVEL = {
    "tertiary": _l("Tertiary hospital"),
    "secondary": _l("Secondary hospital"),
    "primary": _l("Primary care institution"),
}

TIER = {
    "exact": _l("Same specialty"),
    "related": _l("Related specialty (fallback)"),
}

RUN_STAGE = {
    "queued": _l("Waiting to start"),
    "snapshot": _l("Reading items and the expert pool"),
    "solving": _l("Solving the assignment"),
    "proposed": _l("Proposal ready"),
    "failed": _l("Failed"),
}

ADJUSTMENT_TYPE = {
    "supplement": _l("Supplement"),
    "recovery": _l("Recovery"),
    "none": _l("No payment change"),
}

ITEM_KIND = {
    "application": _l("Special-case review"),
    "sampled_record": _l("Medical record review"),
}

EXPORT_KIND = {
    "letters_zip": _l("All decision letters (ZIP of PDFs)"),
    "decisions_csv": _l("Decisions table (CSV)"),
    "decisions_xlsx": _l("Decisions table (Excel XLSX)"),
}

EXPORT_STATUS = {
    "queued": _l("Waiting to start"),
    "running": _l("Being built"),
    "done": _l("Ready to download"),
    "failed": _l("Failed"),
}
"""Export states in the office's words; STATUS speaks of imports ("nothing imported")."""

STRATUM = {
    "all": _l("All cases"),
    "risk:top_cost_ratio": _l("Highest cost ratios"),
    "risk:drg_mismatch": _l("Hospital DRG differs"),
    "risk:single_mcc": _l("MCC resting on one secondary code"),
    "risk:short_stay_high_weight": _l("Short stay in a high-weight DRG"),
}
"""Sampling strata by the code the draw stores (workflows/sampling.py); per-hospital strata are `hospital:<id>`."""

APPEAL_STATE = {
    "filed": _l("Filed"),
    "in_review": _l("With the appeal panel"),
    "proposed": _l("Appeal decision proposed"),
    "issued": _l("Appeal decided"),
    "refused_late": _l("Refused: filed after the deadline"),
    "withdrawn": _l("Withdrawn"),
}
"""An appeal's state (review/models/appeal.py) in the hospital's and the office's words."""


LEDGER_KIND = {
    "supplement": _l("Supplement"),
    "recovery": _l("Recovery"),
    "reversal": _l("Reversal"),
    "correction": _l("Correction"),
}
"""What a journal entry does for the hospital (workflows/settlement.py `line_kind`)."""

SETTLEMENT_STATE = {
    "draft": _l("Draft"),
    "issued": _l("Issued"),
    "acknowledged": _l("Acknowledged"),
    "disputed": _l("Disputed"),
}
"""A settlement statement's state (workflows/states.py SettlementState)."""

SETTLEMENT_STEP = {
    "issue": _l("issue"),
    "acknowledge": _l("acknowledge"),
    "dispute": _l("dispute"),
}

RUN_STATUS = {
    "queued": _l("Queued"),
    "running": _l("In progress"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}
"""A background run's status as its page shows it (settlement drafts)."""

PERIOD_STATE = {
    "open": _l("Open"),
    "closing": _l("Closing"),
    "closed": _l("Closed"),
}
"""An accounting period's state (workflows/states.py PeriodState)."""

PERIOD_STEP = {
    "begin_close": _l("start closing"),
    "close": _l("close"),
}
