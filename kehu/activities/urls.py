from django.urls import URLPattern, URLResolver, path

from kehu.activities import views

app_name = "activities"
urlpatterns: list[URLPattern | URLResolver] = [
    path("interactions/new/", views.interaction_new, name="interaction_new"),
    path("interactions/parties/", views.party_search, name="party_search"),
    path("tasks/", views.my_tasks, name="my_tasks"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:pk>/status/", views.task_status, name="task_status"),
]
