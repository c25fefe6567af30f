from django.urls import path

from ledger import apis, views

well_known = [
    path("jwks.json", views.jwks, name="jwks"),
]

api = [
    path("audit/checkpoints", apis.CheckpointApi.as_view(), name="audit-checkpoint"),
    path(
        "audit/receipts/<uuid:receipt_id>/inclusion",
        apis.InclusionProofApi.as_view(),
        name="audit-inclusion",
    ),
    path("audit/consistency", apis.ConsistencyProofApi.as_view(), name="audit-consistency"),
]
