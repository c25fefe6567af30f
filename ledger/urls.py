from django.urls import path

from ledger import apis, views

well_known = [
    path("jwks.json", views.jwks, name="jwks"),
]

api = [
    path("audit/checkpoints", apis.CheckpointCollectionApi.as_view(), name="audit-checkpoints"),
    path("audit/checkpoints/latest", apis.CheckpointLatestApi.as_view(), name="audit-checkpoint"),
    path(
        "audit/checkpoints/<int:tree_size>",
        apis.CheckpointDetailApi.as_view(),
        name="audit-checkpoint-detail",
    ),
    path("audit/keys", apis.KeyHistoryApi.as_view(), name="audit-keys"),
    path("audit/bundle", apis.AuditBundleApi.as_view(), name="audit-bundle"),
    path("audit/receipts", apis.ReceiptRangeApi.as_view(), name="audit-receipts"),
    path(
        "audit/receipts/<uuid:receipt_id>",
        apis.ReceiptDetailApi.as_view(),
        name="audit-receipt",
    ),
    path(
        "audit/receipts/<uuid:receipt_id>/inclusion",
        apis.InclusionProofApi.as_view(),
        name="audit-inclusion",
    ),
    path("audit/inclusion", apis.LeafInclusionApi.as_view(), name="audit-leaf-inclusion"),
    path("audit/consistency", apis.ConsistencyProofApi.as_view(), name="audit-consistency"),
]
