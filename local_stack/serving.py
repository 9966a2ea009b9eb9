"""What local mode serves: the site origin (CloudFront's part, `LocalSite`) and the API origin (API Gateway's
part, `LocalGateway`), each built from what is deployed in the emulator and swapped in after every change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contract.headers import SecurityHeaders
from contract.outputs import StackOutputs
from contract.routing import RoutingSettings
from local_stack.deployment import LocalStackError
from local_stack.emulator import Emulator
from local_stack.functions import DeployedFunction
from local_stack.gateway import LocalGateway, read_deployed_api
from local_stack.servers import LocalServer, bind_server
from local_stack.site import LocalSite, api_routes, error_pages


@dataclass
class LocalServing:
    """The two loopback servers, holding their ports from the start and serving once `serve` is called."""

    site: LocalServer
    api: LocalServer
    log: Callable[[str], None]
    live_reload: bool = False
    gateway: LocalGateway | None = None
    release: str = ""  # the live release; open pages reload when it changes (live reload)

    @classmethod
    def bind(
        cls, host: str, site_port: int, api_port: int, log: Callable[[str], None], *, live_reload: bool
    ) -> LocalServing:
        """Hold both ports (0: any free port), or fail with PortInUse naming the one that is taken."""
        site = bind_server(host, site_port, "the local site")
        try:
            api = bind_server(host, api_port, "the local API")
        except BaseException:
            site.stop()
            raise
        return cls(site, api, log, live_reload)

    def serve(
        self, emulator: Emulator, outputs: StackOutputs, functions_dir: Path, routing: RoutingSettings | None = None
    ) -> None:
        """Serve (or, once serving, swap in) a site and a gateway built from what is deployed now. `routing`: the
        settings of the routing the distribution's CloudFront Function does on AWS, which the emulator cannot run."""
        distribution = emulator.client("cloudfront").get_distribution_config(Id=outputs.distribution_id)[
            "DistributionConfig"
        ]
        deployed = read_deployed_api(
            emulator.client("apigateway"), emulator.client("lambda"), outputs.api_id, functions_dir
        )
        previous, self.gateway = self.gateway, LocalGateway(deployed, emulator.environment(), self.log)
        self.api.slot.app = self.gateway
        self.site.slot.app = LocalSite(
            emulator.client("s3"),
            outputs.bucket_name,
            distribution["DefaultRootObject"],
            routes=api_routes(distribution),
            api=self.gateway,
            # What the distribution's own policy adds on AWS; the emulator cannot store that policy.
            headers=SecurityHeaders(outputs.content_security_policy).http_headers(),
            routing=routing,
            errors=error_pages(distribution),
            live_reload=self.live_reload,
            release=self.release,
        )
        if previous is None:
            self.site.start()
            self.api.start()
        else:
            previous.close()

    def replace_function(self, function: DeployedFunction) -> None:
        """Run `function`'s new code from the next request on."""
        if self.gateway is None:
            raise LocalStackError("the local API is not serving yet")
        self.gateway.replace_function(function)

    def announce_release(self, release: str) -> None:
        """A new release is live: open pages reload."""
        self.release = release
        if isinstance(self.site.slot.app, LocalSite):
            self.site.slot.app.release = release

    def stop(self) -> None:
        for server in (self.site, self.api):
            server.stop()
        if self.gateway:
            self.gateway.close()
