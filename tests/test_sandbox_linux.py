"""The Linux primitives of the sandbox, each exercised in a forked child: user and other namespaces
(the path taken without root), read-only mounts, and hiding paths while keeping some visible."""

from __future__ import annotations

import errno
import json
import os

from nngpt_core.sandbox import linux
from nngpt_core.sandbox.audit import is_hidden
from nngpt_core.sandbox.confine import hide_paths

NOBODY = 65534


def _in_child(action) -> dict:
    """Run `action()` in a forked child and return the JSON-able dict it produced (or its error)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            outcome = action()
        except BaseException as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_fd, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_an_unprivileged_process_gets_its_namespaces_through_a_user_namespace():
    def action():
        if os.geteuid() == 0:  # become an ordinary user first, as a non-root deployment is
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            linux.prctl(linux.PR_SET_DUMPABLE, 1)  # a uid change clears it, which locks /proc/self/*_map
        uid, gid = os.getuid(), os.getgid()
        linux.unshare(linux.CLONE_NEWUSER)
        linux.map_user_to_root(uid, gid)
        linux.unshare(linux.CLONE_NEWNET | linux.CLONE_NEWNS | linux.CLONE_NEWPID)
        interfaces = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
        return {"uid": os.getuid(), "outside": uid, "interfaces": interfaces}

    outcome = _in_child(action)
    assert outcome.get("uid") == 0, outcome
    assert outcome["outside"] != 0


def test_read_only_tree_and_hidden_paths_with_visible_exceptions(tmp_path):
    home = tmp_path / "home"
    (home / "python" / "lib").mkdir(parents=True)
    (home / "python" / "lib" / "stdlib.py").write_text("visible")
    (home / ".pgpass").write_text("secret")
    (home / "python" / "data").mkdir()
    (home / "python" / "data" / "labels.csv").write_text("hidden again")
    secret_file = tmp_path / "token.txt"
    secret_file.write_text("secret")

    def action():
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        hide_paths((str(home), str(home / "python" / "data"), str(secret_file)), (str(home / "python"),))
        linux.make_tree_read_only("/")
        try:
            open(tmp_path / "new.txt", "w").close()
            write = "allowed"
        except OSError as exc:
            write = errno.errorcode[exc.errno]
        return {
            "listing": sorted(os.listdir(home)),
            "kept": (home / "python" / "lib" / "stdlib.py").read_text(),
            "nested": os.listdir(home / "python" / "data"),
            "file": secret_file.read_text(),
            "write": write,
        }

    outcome = _in_child(action)
    assert outcome.get("listing") == ["python"], outcome  # .pgpass is gone, the interpreter stays
    assert outcome["kept"] == "visible" and outcome["nested"] == [] and outcome["file"] == ""
    assert outcome["write"] == "EROFS"
    assert (home / ".pgpass").read_text() == "secret"  # the host's view is unchanged


def test_hidden_and_visible_rules_agree_with_the_audit_hook():
    hidden, visible = ["/root", "/root/python/data"], ["/root/python"]
    assert is_hidden("/root/.pgpass", hidden, visible)
    assert not is_hidden("/root/python/lib/os.py", hidden, visible)
    assert is_hidden("/root/python/data/labels.csv", hidden, visible)
    assert not is_hidden("/rootkit", hidden, visible) and not is_hidden("/usr/lib", hidden, visible)
