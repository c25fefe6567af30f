from django.urls import path

from portability import views

pages = [
    path("my/data", views.my_data, name="my-data"),
    path("my/data/export", views.my_data_export, name="my-data-export"),
    path("my/data/import", views.my_data_import, name="my-data-import"),
]
