"""Plan review: what a reviewer reads in a pull request.

- `python -m review.summary <stack>` (`pipenv run review`): synthesizes and summarizes a stack: resources by tier,
  every permission with its resource, what is publicly reachable, CORS origins, outputs; `--hcl DIR` also writes
  `cdktf synth --hcl` output for humans.
- `python -m review.plan <stack>` (`pipenv run plan`): `terraform plan` of the synthesized stack, saved as a plan
  file and as JSON (`terraform show -json`) for CI artifacts.
"""
