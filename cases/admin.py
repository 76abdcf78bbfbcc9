from django.contrib import admin

from cases.models import Activity, Attachment, Case, CaseComment, CaseEvent, Counter, Queue


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "inbound_address")
    search_fields = ("name", "slug", "inbound_address")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)


class CaseCommentInline(admin.TabularInline):
    model = CaseComment
    extra = 0
    fields = ("created_at", "is_public", "author_user", "author_contact", "channel", "body")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "subject",
        "status",
        "priority",
        "origin",
        "account",
        "owner",
        "queue",
        "created_at",
    )
    list_filter = ("status", "priority", "origin", "type", "queue", "created_at")
    search_fields = ("number", "subject", "contact__email", "account__name")
    raw_id_fields = ("account", "contact", "owner", "parent")
    list_select_related = ("account", "owner", "queue")
    readonly_fields = (
        "number",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
    )
    inlines = [CaseCommentInline]
    date_hierarchy = "created_at"


@admin.register(CaseComment)
class CaseCommentAdmin(admin.ModelAdmin):
    list_display = ("case", "is_public", "author_user", "author_contact", "channel", "created_at")
    list_filter = ("is_public", "channel")
    search_fields = ("case__number", "body")
    raw_id_fields = ("case", "author_user", "author_contact")
    list_select_related = ("case", "author_user", "author_contact")


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("original_name", "case", "content_type", "size", "is_public", "created_at")
    list_filter = ("content_type", "is_public")
    search_fields = ("original_name", "sha256", "case__number")
    raw_id_fields = ("case", "comment", "uploaded_by")
    list_select_related = ("case",)


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "field", "old_value", "new_value", "actor", "created_at")
    list_filter = ("kind",)
    search_fields = ("case__number", "field", "old_value", "new_value")
    raw_id_fields = ("case", "actor")
    list_select_related = ("case", "actor")

    # History is append-only: it is written by services, never by hand.
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("subject", "kind", "case", "owner", "starts_at", "due_at", "done_at")
    list_filter = ("kind", "done_at")
    search_fields = ("subject", "case__number")
    raw_id_fields = ("case", "owner", "created_by")
    list_select_related = ("case", "owner")


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ("name", "value")
