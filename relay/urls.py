from django.urls import path

from relay import apis

api = [
    path("transfers", apis.TransferCollectionApi.as_view(), name="transfer-list"),
    path("transfers/<uuid:transfer_id>", apis.TransferDetailApi.as_view(), name="transfer-detail"),
]
