from django.urls import URLPattern, URLResolver, path

from kehu.sales import views

app_name = "sales"
urlpatterns: list[URLPattern | URLResolver] = [
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_new, name="product_new"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("products/categories/new/", views.category_new, name="category_new"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/line-row/", views.order_line_row, name="order_line_row"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/edit/", views.order_edit, name="order_edit"),
    path("orders/<int:pk>/status/", views.order_status, name="order_status"),
    path("orders/<int:pk>/return/", views.return_new, name="return_new"),
]
