"""All models, imported here so Alembic and `create_all` see every table."""
from review.models.activity import ActivityLog, RegisterHead
from review.models.appeal import Appeal
from review.models.assignment_run import AssignmentJob, AssignmentRun
from review.models.case import Case
from review.models.catalogue import DrgAverageCost, DrgCatalogue
from review.models.cycle import Cycle, CycleEvent, CycleVolume
from review.models.decision import Decision
from review.models.exports import ExportJob
from review.models.holidays import Holiday
from review.models.intake import ApiToken, IdempotencyRecord, ImportJob
from review.models.invitations import Invitation
from review.models.jobs import Job
from review.models.ledger import Account, JournalEntry, JournalLine
from review.models.periods import AccountingPeriod, PeriodBalance
from review.models.letterhead import LetterCounter, Letterhead
from review.models.organisation import Hospital, Policy, Region
from review.models.people import Expert, User
from review.models.pool import ExpertConflict, SpecialtyRelation
from review.models.review_item import Assignment, Document, ReviewItem, Scoresheet
from review.models.sampling import Notification, SamplingPlan
from review.models.settlement import Settlement, SettlementLine, SettlementRun

__all__ = [
    "Account", "AccountingPeriod", "PeriodBalance", "ActivityLog", "Appeal", "AssignmentJob", "AssignmentRun", "ApiToken", "IdempotencyRecord", "ImportJob", "Assignment", "Case", "Cycle", "CycleEvent", "CycleVolume", "Decision", "Document", "DrgAverageCost",
    "ExportJob",
    "DrgCatalogue", "Expert", "ExpertConflict", "Hospital", "Invitation", "Job", "JournalEntry", "JournalLine", "LetterCounter", "Letterhead", "Notification", "Policy", "Region", "RegisterHead", "ReviewItem", "SamplingPlan", "SpecialtyRelation",
    "Scoresheet", "Settlement", "SettlementLine", "SettlementRun", "User",
]
