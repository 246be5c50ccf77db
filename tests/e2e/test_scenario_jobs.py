"""Jobs as a user runs them: `kubelite server --hollow-nodes 3` with the real kubectl. Hollow nodes
keep pods Running forever, so the test completes the pods by patching their status (what a kubelet
would report); `kubectl get jobs` then shows 2/2, `kubectl wait --for=condition=complete` returns,
`kubectl describe` lists the job-controller's events, and `kubectl create job --from=cronjob/x`
gives a Job that runs. CronJob schedules themselves are tested in fake time in-process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.kubectl_util import row_named
from tests.e2e.server_harness import RunningServer, start_server

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: busybox
        command: ["sh", "-c", "echo 3.14"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("jobs"), "--hollow-nodes", "3")
    yield running
    running.stop()


def kubectl(server: RunningServer, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 30) -> str:
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), HOME=str(server.data_dir))
    result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def eventually(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_pods(server: RunningServer, job: str) -> list[dict]:
    out = kubectl(server, "get", "pods", "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json")
    items: list[dict] = json.loads(out)["items"]
    return items


def test_job_completes_when_its_pods_succeed(cluster: RunningServer) -> None:
    assert kubectl(cluster, "apply", "-f", "-", stdin=JOB) == "job.batch/pi created\n"

    def running() -> bool:
        pods = job_pods(cluster, "pi")
        return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)

    eventually(running, what="2 running pods")
    row = row_named(kubectl(cluster, "get", "jobs"), "pi")
    assert row["STATUS"] == "Running" and row["COMPLETIONS"] == "0/2"

    for pod in job_pods(cluster, "pi"):
        name = pod["metadata"]["name"]
        kubectl(cluster, "patch", "pod", name, "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Succeeded"}}')

    out = kubectl(cluster, "wait", "--for=condition=complete", "job/pi", "--timeout=20s", timeout=30)
    assert out == "job.batch/pi condition met\n"
    row = row_named(kubectl(cluster, "get", "jobs"), "pi")
    assert row["STATUS"] == "Complete" and row["COMPLETIONS"] == "2/2"

    described = kubectl(cluster, "describe", "job", "pi")
    assert "Pods Statuses:    0 Active (0 Ready) / 2 Succeeded / 0 Failed" in described
    for reason, message in (("SuccessfulCreate", "Created pod: pi-"), ("Completed", "Job completed")):
        assert any(reason in line and message in line for line in described.splitlines()), described

    for pod in job_pods(cluster, "pi"):
        assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])


def test_job_created_from_a_cronjob_runs(cluster: RunningServer) -> None:
    kubectl(cluster, "create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *")
    assert kubectl(cluster, "create", "job", "nightly-now", "--from=cronjob/nightly") == "job.batch/nightly-now created\n"
    eventually(lambda: len(job_pods(cluster, "nightly-now")) == 1, what="the job's pod")
    (pod,) = job_pods(cluster, "nightly-now")
    kubectl(cluster, "patch", "pod", pod["metadata"]["name"], "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Succeeded"}}')
    kubectl(cluster, "wait", "--for=condition=complete", "job/nightly-now", "--timeout=20s", timeout=30)
    owner = json.loads(kubectl(cluster, "get", "job", "nightly-now", "-o", "json"))["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("CronJob", "nightly")
