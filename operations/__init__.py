"""Commands that operate an environment, around the post-apply hook (`hooks/`):

- `preflight`: read-only checks of an account before a deploy (`pipenv run preflight <stack>`).
- `deploy`: preflight, synth, terraform init + apply, then publish (`pipenv run deploy <stack>`).
- `destroy`: terraform destroy of a preview environment, and only of one (`pipenv run destroy preview-<slug>`).
- `drift`: what changed outside Terraform, from a refresh-only plan (`pipenv run drift <stack>`; exit 2 on drift).
- `review`: a reviewer's summary of a synthesized stack: resources by tier, permissions, public surface, CORS
  (`pipenv run review <stack>`).
- `plan`: `terraform plan` of a synthesized stack, saved as a plan file and JSON for CI (`pipenv run plan <stack>`).
"""
