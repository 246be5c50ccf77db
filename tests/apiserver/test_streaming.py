"""Request checks of the streaming subresources: which container a request means, and
PodLogOptions validated as upstream does and passed on to the kubelet."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from kubelite.api.errors import StatusError
from kubelite.apiserver.streaming import choose_container, log_params

POD = {
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}], "initContainers": [{"name": "setup"}]},
}


def test_the_container_named_or_the_only_one() -> None:
    assert choose_container(POD, "sidecar") == "sidecar"
    assert choose_container(POD, "setup") == "setup"
    assert choose_container({"metadata": {"name": "one"}, "spec": {"containers": [{"name": "only"}]}}, "") == "only"
    with pytest.raises(StatusError) as unknown:
        choose_container(POD, "db")
    assert (unknown.value.code, unknown.value.message) == (400, "container db is not valid for pod web")
    with pytest.raises(StatusError) as ambiguous:
        choose_container(POD, "")
    assert ambiguous.value.message == (
        "a container name must be specified for pod web, choose one of: [app sidecar] or one of the init containers: [setup]"
    )


def test_log_options_pass_through_to_the_kubelet() -> None:
    query = MultiDict(
        [("container", "app"), ("follow", "true"), ("previous", "false"), ("tailLines", "10"), ("timestamps", "1"), ("limitBytes", "500")]
    )
    assert log_params(query, "web") == [("follow", "true"), ("timestamps", "true"), ("tailLines", "10"), ("limitBytes", "500")]
    assert log_params(MultiDict([("sinceTime", "2025-01-01T00:00:00Z")]), "web") == [("sinceTime", "2025-01-01T00:00:00Z")]


def test_log_options_are_validated() -> None:
    with pytest.raises(StatusError) as invalid:
        log_params(MultiDict([("tailLines", "-1"), ("limitBytes", "0")]), "web")
    assert invalid.value.code == 422
    assert invalid.value.message == (
        'PodLogOptions "web" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, '
        "limitBytes: Invalid value: 0: must be greater than 0]"
    )
    with pytest.raises(StatusError, match="at most one of `sinceTime` or `sinceSeconds`"):
        log_params(MultiDict([("sinceSeconds", "10"), ("sinceTime", "2025-01-01T00:00:00Z")]), "web")
    with pytest.raises(StatusError, match='invalid value for tailLines: "ten"'):
        log_params(MultiDict([("tailLines", "ten")]), "web")
