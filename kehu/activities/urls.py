from django.urls import URLPattern, URLResolver, path

from kehu.activities import views

app_name = "activities"
urlpatterns: list[URLPattern | URLResolver] = [
    path("interactions/", views.interaction_list, name="interaction_list"),
    path("interactions/<int:pk>/edit/", views.interaction_edit, name="interaction_edit"),
    path("interactions/<int:pk>/delete/", views.interaction_delete, name="interaction_delete"),
    path("interactions/new/", views.interaction_new, name="interaction_new"),
    path("interactions/parties/", views.party_search, name="party_search"),
    path("tasks/", views.my_tasks, name="my_tasks"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:pk>/status/", views.task_status, name="task_status"),
    path("time/", views.my_time, name="my_time"),
    path("time/new/", views.service_time_new, name="service_time_new"),
    path("time/<int:pk>/edit/", views.service_time_edit, name="service_time_edit"),
    path("time/<int:pk>/delete/", views.service_time_delete, name="service_time_delete"),
]
