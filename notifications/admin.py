from django.contrib import admin

from notifications.models import EmailTemplate, Flow, FlowAction, FlowCondition, OutboundEmail

admin.site.register(EmailTemplate)
admin.site.register(OutboundEmail)


class FlowConditionInline(admin.TabularInline):
    model = FlowCondition
    extra = 0


class FlowActionInline(admin.StackedInline):
    model = FlowAction
    extra = 0


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    inlines = [FlowConditionInline, FlowActionInline]
