"""Pages of an LDC's staff, by subject: members, API tokens and the audit trail (members), the
MDM/R stages (stages), enrollment groups (enrollment) and GUI training (training)."""

from ldc.views.enrollment import (
    GroupCancelView,
    GroupCreateView,
    GroupDetailView,
    GroupListView,
    GroupStepView,
)
from ldc.views.members import (
    AuditView,
    MemberRemoveView,
    MemberRoleView,
    MembersView,
    TokenRevokeView,
    TokensView,
)
from ldc.views.stages import (
    ChecklistItemUpdateView,
    EvidenceDownloadView,
    EvidenceUploadView,
    StageDetailView,
    StageSubmitView,
    StagesView,
    TestDayRecordView,
)
from ldc.views.training import TrainingRegisterView, TrainingUnregisterView, TrainingView

__all__ = [
    "AuditView",
    "ChecklistItemUpdateView",
    "EvidenceDownloadView",
    "EvidenceUploadView",
    "GroupCancelView",
    "GroupCreateView",
    "GroupDetailView",
    "GroupListView",
    "GroupStepView",
    "MemberRemoveView",
    "MemberRoleView",
    "MembersView",
    "StageDetailView",
    "StageSubmitView",
    "StagesView",
    "TestDayRecordView",
    "TokenRevokeView",
    "TokensView",
    "TrainingRegisterView",
    "TrainingUnregisterView",
    "TrainingView",
]
