"""`python -m operations.deploy <stack>`: synth, terraform init and apply, then the hook; nothing is published when the
deploy fails."""

from __future__ import annotations

import pytest

from operations import deploy


def test_usage_is_printed_without_a_stack(capsys):
    with pytest.raises(SystemExit) as exit_info:
        deploy.main([])
    assert exit_info.value.code == 2
    assert "usage: python -m operations.deploy" in capsys.readouterr().err


def test_unknown_stack_names_the_allowed_ones(capsys, tmp_path):
    assert deploy.main(["staging", "--outdir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        "deploy: error: environment: 'staging' is not allowed; allowed values: local, prod, or preview-<slug> "
        "(1-12 lowercase letters, digits or inner '-'); nothing was published\n"
    )


def test_failed_deploy_publishes_nothing_and_says_what_terraform_said(monkeypatch, tmp_path, capsys):
    # An empty provider mirror on a machine without registry access: terraform init fails, for real.
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "empty-mirror"))
    published = []
    monkeypatch.setattr(deploy, "publish_site", lambda *args, **kwargs: published.append(args))
    assert deploy.main(["prod", "--skip-preflight", "--outdir", str(tmp_path / "out")]) == 1
    assert published == []
    err = capsys.readouterr().err
    assert err.startswith("deploy: error: terraform init failed: ")
    assert "hashicorp/aws" in err
    assert err.endswith("; nothing was published\n")
