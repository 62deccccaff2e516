"""admin_console: the admin console's users, sign-in failures and audit log (issue 16), and the receipts
index its Overview and Sources pages read (24-hour counts and the last delivery per source)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email", name="uq_admin_users_email"),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_audit_actor_id", "admin_audit", ["actor", "id"], unique=False)
    op.create_table(
        "admin_sign_in_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_admin_sign_in_failures_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_admin_sign_in_failures_ip_at", ["ip", "at"], unique=False)
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_receipts_source_received_at", ["source", "received_at", "status"], unique=False
        )
    # The Events search by oppref and the Failures list (newest failed CRM writes and conversions).
    op.create_index("ix_submissions_oppref", "submissions", [sa.text("(attribution ->> 'oppref')")])
    op.create_index("ix_crm_writes_status_updated_at", "crm_writes", ["status", "updated_at"])
    op.create_index("ix_conversions_status_updated_at", "conversions", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_conversions_status_updated_at", table_name="conversions")
    op.drop_index("ix_crm_writes_status_updated_at", table_name="crm_writes")
    op.drop_index("ix_submissions_oppref", table_name="submissions")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_source_received_at")
    with op.batch_alter_table("admin_sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_sign_in_failures_ip_at")
        batch_op.drop_index("ix_admin_sign_in_failures_email_at")
    op.drop_table("admin_sign_in_failures")
    op.drop_index("ix_admin_audit_actor_id", table_name="admin_audit")
    op.drop_table("admin_audit")
    op.drop_table("admin_users")
