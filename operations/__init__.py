"""Commands that operate an environment on AWS, around the post-apply hook (`hooks/`):

- `preflight`: read-only checks of an account before a deploy (`pipenv run preflight <stack>`).
- `deploy`: preflight, synth, terraform init + apply, then publish (`pipenv run deploy <stack>`).
"""
