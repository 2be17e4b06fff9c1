"""Builds a database as the original Django app would have it, with real Django 4.2 and
simplejwt 5.3.1, for tasklane's import tests.

    python original.py SPEC.json

SPEC: {"database": "/path/db.sqlite3" or "postgres://…", "secret_key": "…",
       "users": [{"username", "email", "password" (null: unusable), "hasher",
                  "hasher_attrs"? (set on the hasher first, as a subclass in
                  PASSWORD_HASHERS would: {"iterations": 1000001}, {"rounds": 13}),
                  "edit_hash"? ([old, new]: replaced once in the hash made),
                  "is_active", "date_joined"?, "tasks": [{"title", "description",
                  "completed", "created_at"?, "updated_at"?}]}],
       "delete_task_titles": [...], "tokens_for": ["username", ...]}
Prints JSON: {"users": {username: id}, "tasks": [{id, title, ...}], "tokens":
{username: {"access", "refresh"}}}.
"""
import copy
import datetime
import json
import os
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django
from django.conf import settings

spec = json.load(open(sys.argv[1]))
db = spec["database"]
if db.startswith("postgres"):
    u = urlparse(db)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": u.path.lstrip("/"),
        "USER": u.username or "",
        "PASSWORD": u.password or "",
        "HOST": u.hostname or "",
        "PORT": u.port or 5432,
    }
else:
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db}

settings.configure(
    SECRET_KEY=spec["secret_key"],
    USE_TZ=True,
    TIME_ZONE="UTC",
    DATABASES={"default": database},
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_simplejwt",
        "tasks",
    ],
    # Django 4.2's default hashers, the default first.
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
    # The original's settings: access tokens live 120 minutes.
    SIMPLE_JWT={"ACCESS_TOKEN_LIFETIME": datetime.timedelta(minutes=120)},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.contrib.auth.hashers import get_hasher, make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from tasks.models import Task  # noqa: E402

call_command("migrate", verbosity=0)


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


out = {"users": {}, "tasks": [], "tokens": {}}
for u in spec["users"]:
    password = u.get("password")
    if password is None:
        hashed = make_password(None)
    elif u.get("hasher_attrs"):
        # A copy: Django keeps one instance of each hasher.
        hasher = copy.copy(get_hasher(u.get("hasher", "default")))
        for name, value in u["hasher_attrs"].items():
            setattr(hasher, name, value)
        hashed = hasher.encode(password, hasher.salt())
    else:
        hashed = make_password(password, hasher=u.get("hasher", "default"))
    if u.get("edit_hash"):
        old, new = u["edit_hash"]
        assert old in hashed, (old, hashed)
        hashed = hashed.replace(old, new, 1)
    user = User.objects.create(
        username=u["username"],
        email=u.get("email", ""),
        password=hashed,
        is_active=u.get("is_active", True),
    )
    if u.get("date_joined"):
        User.objects.filter(pk=user.pk).update(date_joined=when(u["date_joined"]))
    out["users"][u["username"]] = user.pk
    for t in u.get("tasks", []):
        task = Task.objects.create(
            title=t["title"],
            description=t.get("description"),
            completed=t.get("completed", False),
            user=user,
        )
        stamps = {k: when(t[k]) for k in ("created_at", "updated_at") if t.get(k)}
        if stamps:
            Task.objects.filter(pk=task.pk).update(**stamps)
for title in spec.get("delete_task_titles", []):
    Task.objects.filter(title=title).delete()
for task in Task.objects.order_by("id"):
    out["tasks"].append({
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "user_id": task.user_id,
    })
for name in spec.get("tokens_for", []):
    refresh = RefreshToken.for_user(User.objects.get(username=name))
    out["tokens"][name] = {"refresh": str(refresh), "access": str(refresh.access_token)}
print(json.dumps(out))
