"""Imports: the uploaded file, its column mapping, its progress and each row's outcome."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned


class ImportTarget(models.TextChoices):
    """What a file is imported into (see kehu.dataio.targets)."""

    PARTIES = "parties", _("客户")
    INTERACTIONS = "interactions", _("互动记录")
    ORDERS = "orders", _("订单")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("待映射")
    CHECKING = "checking", _("试运行中")
    CHECKED = "checked", _("已试运行")
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class Outcome(models.TextChoices):
    CREATED = "created", _("新建")
    UPDATED = "updated", _("更新")
    UNCHANGED = "unchanged", _("无变化")
    DUPLICATE = "duplicate", _("疑似重复")
    REFUSED = "refused", _("拒绝")


class Phase(models.TextChoices):
    DRY_RUN = "dry_run", _("试运行")
    RUN = "run", _("导入")


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", _("跳过，不导入")
    UPDATE = "update", _("更新已有客户")
    CREATE = "create", _("仍然新建")


def _upload_to(instance: "Import", filename: str) -> str:
    return f"imports/{instance.tenant_id}/{filename}"


class Import(TenantOwned):
    """One file being imported: uploaded, mapped, checked (dry run), then run in batches.

    `rows_done` is the checkpoint: the rows of every batch committed so far. A worker
    killed mid-batch loses only that batch's transaction, and a resumed run starts at
    `rows_done` — so nothing is lost and nothing is written twice.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    target = models.CharField(
        _("导入对象"), max_length=20, choices=ImportTarget.choices, default=ImportTarget.PARTIES
    )
    file = models.FileField(upload_to=_upload_to, max_length=200)
    file_name = models.CharField(_("文件名"), max_length=200)
    file_format = models.CharField(_("格式"), max_length=8)
    encoding = models.CharField(_("编码"), max_length=20, blank=True)
    headers = models.JSONField(default=list)
    # {column index (as text): target field key}
    mapping = models.JSONField(default=dict)
    options = models.JSONField(default=dict)
    status = models.CharField(
        _("状态"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    # {outcome: count} for the phase last run
    counts = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the last batch committed: a run that has not moved for a while is resumable.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导入")
        verbose_name_plural = _("导入")
        indexes = [models.Index(fields=["tenant", "created_by", "-id"], name="import_user_idx")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def phase(self) -> str:
        return (
            Phase.DRY_RUN
            if self.status in {ImportStatus.CHECKING, ImportStatus.CHECKED}
            else Phase.RUN
        )

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, self.rows_done * 100 // self.total_rows)

    def option(self, name: str, default: Any = "") -> Any:
        return self.options.get(name, default)


class ImportRow(TenantOwned):
    """What one row of the file did (or would do, in a dry run), and why."""

    job = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rows")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    number = models.PositiveIntegerField(_("行号"))
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    party = models.ForeignKey(
        "parties.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    messages = models.JSONField(default=list)
    # The row as read, kept for the rows that were not imported (the error file).
    values = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "phase", "number"], name="import_row_unique")
        ]
        indexes = [
            models.Index(
                fields=["tenant", "job", "phase", "outcome", "number"], name="import_row_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.outcome}"


class ExternalKey(TenantOwned):
    """A party's id in another system (the source file's 客户编号): re-importing the same
    file finds the same party instead of creating a second one."""

    source = models.CharField(_("来源系统"), max_length=50)
    external_id = models.CharField(_("外部编号"), max_length=100)
    party = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"], name="external_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class InteractionKey(TenantOwned):
    """An interaction's id in another system (an interactions file's 外部编号): re-importing
    the file finds the interaction again instead of logging it twice."""

    source = models.CharField(_("来源系统"), max_length=50)
    external_id = models.CharField(_("外部编号"), max_length=100)
    interaction = models.ForeignKey(
        "activities.Interaction", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"], name="interaction_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class MappingTemplate(TenantOwned):
    """A saved column mapping: {header text: target field}, reused for the next file."""

    target = models.CharField(max_length=20, default="parties")
    name = models.CharField(_("模板名称"), max_length=50)
    columns = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "target", "name"], name="mapping_template_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CandidateStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    MERGED = "merged", _("已合并")
    DISMISSED = "dismissed", _("不是重复")


class DuplicateCandidate(TenantOwned):
    """Two parties that look like one (docs/decisions/0008-duplicates.md): `party_a` has
    the lower id. Found by the full scan or when a party was created despite the warning."""

    party_a = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    party_b = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("相似度"))
    # [[code, value], …]: `dedup.explain` reads them in the reader's language.
    reasons = models.JSONField(default=list)
    status = models.CharField(
        _("状态"), max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.OPEN
    )
    found_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("疑似重复")
        verbose_name_plural = _("疑似重复")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "party_a", "party_b"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(party_a__lt=models.F("party_b")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-score", "id"], name="duplicate_queue_idx"),
            models.Index(fields=["tenant", "party_b"], name="duplicate_party_b_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.party_a_id} ~ {self.party_b_id}"

    @property
    def explanation(self) -> str:
        from kehu.dataio.dedup import explain

        return explain(self.reasons)


class ScanStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("扫描中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class DuplicateScan(TenantOwned):
    """One full scan of the archive. `blocks_done` is the checkpoint: the blocks (in their
    fixed order) whose pairs are committed; a resumed scan starts after them."""

    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=ScanStatus.choices, default=ScanStatus.QUEUED
    )
    parties = models.PositiveIntegerField(default=0)
    total_blocks = models.PositiveIntegerField(null=True, blank=True)
    blocks_done = models.PositiveIntegerField(default=0)
    pairs_compared = models.PositiveBigIntegerField(default=0)
    candidates_found = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("重复扫描")
        verbose_name_plural = _("重复扫描")

    def __str__(self) -> str:
        return f"{self.pk}: {self.status}"

    @property
    def percent(self) -> int:
        if not self.total_blocks:
            return 100 if self.status == ScanStatus.DONE else 0
        return min(100, self.blocks_done * 100 // self.total_blocks)


class PartyMerge(TenantOwned):
    """A merge of `loser` into `survivor`, with all it takes to undo it exactly: both
    parties' fields before, each linked row moved ({"app.model.field": [ids]}), and each
    row removed because the survivor already had its like (serialised whole)."""

    survivor = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    loser = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    survivor_before = models.JSONField(default=dict)
    loser_before = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    removed = models.JSONField(default=list)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(_("合并时间"), auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户合并")
        verbose_name_plural = _("客户合并")
        indexes = [models.Index(fields=["tenant", "-merged_at"], name="party_merge_idx")]

    def __str__(self) -> str:
        return f"{self.loser_id} → {self.survivor_id}"


class Export(TenantOwned):
    """One list exported to a file: who, which list, with which filters, how many rows.
    Written when the download starts; `row_count` and `finished_at` when it ends (a
    download the client broke off keeps the rows sent so far and no `finished_at`)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    list_name = models.CharField(_("列表"), max_length=30)
    file_format = models.CharField(_("格式"), max_length=8)
    filters = models.JSONField(_("筛选条件"), default=dict)
    row_count = models.PositiveIntegerField(_("行数"), null=True, blank=True)
    created_at = models.DateTimeField(_("导出时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导出")
        verbose_name_plural = _("导出")
        indexes = [
            models.Index(fields=["tenant", "created_by", "-created_at"], name="export_user_idx")
        ]

    def __str__(self) -> str:
        return f"{self.list_name}.{self.file_format}"


class BackupKind(models.TextChoices):
    BACKUP = "backup", _("备份")
    RESTORE = "restore", _("恢复")


class BackupStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("进行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


def _backup_to(instance: "Backup", filename: str) -> str:
    return f"backups/{instance.tenant_id}/{filename}"


class Backup(TenantOwned):
    """A backup of the whole tenant being written (a zip to download when done), or a
    backup file being restored into this tenant. Not itself part of a backup: it is the
    machinery, and its file is the backup."""

    kind = models.CharField(_("类型"), max_length=8, choices=BackupKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=8, choices=BackupStatus.choices, default=BackupStatus.QUEUED
    )
    file = models.FileField(upload_to=_backup_to, max_length=200, blank=True)
    file_size = models.BigIntegerField(_("文件大小"), null=True, blank=True)
    # {model label: rows}
    counts = models.JSONField(default=dict)
    # What a restore changed to fit this server (usernames, tokens already taken).
    notes = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("备份")
        verbose_name_plural = _("备份")
        indexes = [models.Index(fields=["tenant", "-created_at"], name="backup_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class QualitySnapshot(TenantOwned):
    """One day's data-quality figures (docs/decisions/0012-data-quality.md): the firm's
    (owner empty) and each owner's, written by the nightly task; the trend chart reads
    them. `figures` holds `quality.Figures` as a dict."""

    taken_on = models.DateField(_("日期"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    figures = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("数据质量快照")
        verbose_name_plural = _("数据质量快照")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "taken_on", "owner"],
                condition=models.Q(owner__isnull=False),
                name="quality_snapshot_owner_day_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "taken_on"],
                condition=models.Q(owner__isnull=True),
                name="quality_snapshot_firm_day_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "owner", "taken_on"], name="quality_snapshot_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.taken_on} {self.owner_id or ''}"
