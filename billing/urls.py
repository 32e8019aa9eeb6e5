from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.BillingListView.as_view(), name="list"),
    path("request/", views.BillingRequestView.as_view(), name="request"),
    path("batch/", views.BillingBatchView.as_view(), name="batch"),
    path("batches/<str:public_id>/csv/", views.BillingBatchCsvView.as_view(), name="batch-csv"),
    path("settlement.csv", views.SettlementCsvView.as_view(), name="settlement"),
    path("prices/", views.PriceListView.as_view(), name="prices"),
    path("prices/new/", views.PriceEditView.as_view(), name="price-new"),
    path("prices/<str:day>/", views.PriceEditView.as_view(), name="price-edit"),
    path(
        "quantities/<str:public_id>/explain/",
        views.QuantityExplainView.as_view(),
        name="quantity-explain",
    ),
    path("<str:public_id>/", views.BillingDetailView.as_view(), name="detail"),
    path("<str:public_id>/release/", views.BillingReleaseView.as_view(), name="release"),
]
