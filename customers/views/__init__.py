"""Customer pages, by subject: accounts and invitations, usage by TOU period, plans and
insights, the Green Button download, learning about TOU. Another customer's SDP is a 404: the SDP
is looked up through the user's own links (customers.views.sdp)."""

from customers.views.accounts import (
    InvitationAcceptView,
    InvitationListView,
    LinkAccountView,
    UnlinkAccountView,
)
from customers.views.download import DownloadView
from customers.views.learn import LearnView
from customers.views.plans import InsightsView, PlansView
from customers.views.usage import SCALES, UsageView

__all__ = [
    "SCALES",
    "DownloadView",
    "InsightsView",
    "InvitationAcceptView",
    "InvitationListView",
    "LearnView",
    "LinkAccountView",
    "PlansView",
    "UnlinkAccountView",
    "UsageView",
]
