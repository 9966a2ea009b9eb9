"""`python -m hooks.deploy <stack>`: cdktf deploy, then the hook; nothing is published when the deploy fails."""

from __future__ import annotations

from hooks import deploy


def test_usage_is_printed_without_a_stack(capsys):
    assert deploy.main([]) == 2
    assert "python -m hooks.deploy prod" in capsys.readouterr().err


def test_failed_deploy_publishes_nothing(monkeypatch, tmp_path, capsys):
    # Run the real CDKTF CLI where there is no project (no cdktf.json): it fails before synthesizing anything,
    # so the project's cdktf.out, which other tests deploy from, is left alone.
    monkeypatch.setattr(deploy, "PROJECT_DIR", tmp_path)
    published = []
    monkeypatch.setattr(deploy.post_apply, "main", lambda argv: published.append(argv) or 0)
    code = deploy.main(["no-such-stack"])
    assert code != 0
    assert published == []
    assert "deploy: error: cdktf deploy no-such-stack failed" in capsys.readouterr().err
