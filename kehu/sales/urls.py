from django.urls import URLPattern, URLResolver, path

from kehu.sales import pipeline_views, settings_views, views

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
    path("opportunities/", pipeline_views.opportunity_list, name="opportunity_list"),
    path("opportunities/board/", pipeline_views.board, name="board"),
    path("opportunities/new/", pipeline_views.opportunity_new, name="opportunity_new"),
    path("opportunities/<int:pk>/", pipeline_views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", pipeline_views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/move/", pipeline_views.opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/win/", pipeline_views.opportunity_win, name="opportunity_win"),
    path("opportunities/<int:pk>/lose/", pipeline_views.opportunity_lose, name="opportunity_lose"),
    path("settings/selling/", settings_views.pipeline_settings, name="pipeline_settings"),
    path("settings/selling/pipelines/new/", settings_views.pipeline_new, name="pipeline_new"),
    path(
        "settings/selling/pipelines/<int:pk>/default/",
        settings_views.pipeline_default,
        name="pipeline_default",
    ),
    path(
        "settings/selling/pipelines/<int:pk>/stages/new/",
        settings_views.stage_new,
        name="stage_new",
    ),
    path("settings/selling/stages/<int:pk>/", settings_views.stage_edit, name="stage_edit"),
    path(
        "settings/selling/lost-reasons/new/",
        settings_views.lost_reason_new,
        name="lost_reason_new",
    ),
    path("settings/selling/options/", settings_views.settings_edit, name="settings_edit"),
    path("settings/selling/rules/new/", settings_views.rule_new, name="rule_new"),
    path(
        "settings/selling/rules/<int:pk>/delete/",
        settings_views.rule_remove,
        name="rule_remove",
    ),
    path("forecast/", pipeline_views.forecast, name="forecast"),
    path("reports/revenue/", pipeline_views.revenue_report, name="revenue_report"),
]
