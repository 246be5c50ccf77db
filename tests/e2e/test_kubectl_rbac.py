"""RBAC end to end with the real kubectl (1.33 and 1.27) against a real `kubelite server`: a
service account's token is forbidden with upstream's message until a Role and RoleBinding grant it,
`kubectl auth can-i` (also impersonating with --as, and --list) and `auth whoami` agree with what
requests get, a ClusterRole aggregated into `view` takes effect, `kubectl auth reconcile` works,
and anonymous requests reach only what the bootstrap policy grants them."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import eventually, new_namespace, unique, version_tag
from tests.e2e.server_harness import RunningServer


def can_i(kubectl: Kubectl, *args: str) -> str:
    result = kubectl.run("auth", "can-i", *args, check=False)
    return result.stdout.strip()


def test_service_account_token_needs_a_role_binding(kubectl: Kubectl) -> None:
    namespace = new_namespace(kubectl, "rbac-sa")
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kubectl("create", "token", "robot", "-n", namespace).strip()
    user = f"system:serviceaccount:{namespace}:robot"

    denied = kubectl.run("--token", token, "get", "pods", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert denied.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "{user}" cannot list resource "pods" '
        f'in API group "" in the namespace "{namespace}"'
    )
    assert can_i(kubectl, "list", "pods", "-n", namespace, "--as", user) == "no"
    assert can_i(kubectl, "--token", token, "list", "pods", "-n", namespace) == "no"

    assert kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", namespace) == (
        "role.rbac.authorization.k8s.io/pod-reader created\n"
    )
    assert kubectl("create", "rolebinding", "robot-reads", "--role=pod-reader", f"--serviceaccount={namespace}:robot", "-n", namespace) == (
        "rolebinding.rbac.authorization.k8s.io/robot-reads created\n"
    )
    assert kubectl("--token", token, "get", "pods", "-n", namespace).strip() == ""  # allowed (no pods yet)
    assert can_i(kubectl, "list", "pods", "-n", namespace, "--as", user) == "yes"
    assert can_i(kubectl, "--token", token, "get", "pods", "-n", namespace) == "yes"
    assert can_i(kubectl, "delete", "pods", "-n", namespace, "--as", user) == "no"
    assert can_i(kubectl, "list", "pods", "-n", "default", "--as", user) == "no"

    if version_tag(kubectl) != "127":  # 1.27 asks for selfsubjectreviews v1beta1, which 1.33 no longer serves
        whoami = kubectl("--token", token, "auth", "whoami")
        assert user in whoami and f"system:serviceaccounts:{namespace}" in whoami

    listed = kubectl("auth", "can-i", "--list", "-n", namespace, "--as", user)
    assert any(line.split()[0] == "pods" and "[get list watch]" in line for line in listed.splitlines()[1:])
    # impersonating needs `impersonate`: the service account itself may not
    refused = kubectl.run("--token", token, "get", "pods", "-n", namespace, "--as", "someone", check=False)
    assert refused.returncode != 0
    assert f'users "someone" is forbidden: User "{user}" cannot impersonate resource "users" in API group "" at the cluster scope' in (
        refused.stderr
    )
    kubectl("delete", "namespace", namespace, "--wait=false")


def test_a_cluster_role_aggregated_into_view_takes_effect(kubectl: Kubectl) -> None:
    namespace = new_namespace(kubectl, "rbac-agg")
    kubectl("create", "serviceaccount", "watcher", "-n", namespace)
    user = f"system:serviceaccount:{namespace}:watcher"
    binding = unique(kubectl, "watcher-views")
    kubectl("create", "clusterrolebinding", binding, "--clusterrole=view", f"--serviceaccount={namespace}:watcher")
    assert can_i(kubectl, "list", "pods", "-A", "--as", user) == "yes"  # view already has pods
    assert can_i(kubectl, "list", "storageclasses.storage.k8s.io", "--as", user) == "no"

    role = unique(kubectl, "storage-viewer")
    kubectl("create", "clusterrole", role, "--verb=get,list,watch", "--resource=storageclasses.storage.k8s.io")
    kubectl("label", "clusterrole", role, "rbac.authorization.k8s.io/aggregate-to-view=true")
    eventually(lambda: can_i(kubectl, "list", "storageclasses.storage.k8s.io", "--as", user) == "yes")
    assert can_i(kubectl, "list", "storageclasses.storage.k8s.io", "--as", user, "-n", "default") == "yes"
    kubectl("--as", user, "get", "storageclasses")

    kubectl("delete", "clusterrole", role)
    eventually(lambda: can_i(kubectl, "list", "storageclasses.storage.k8s.io", "--as", user) == "no")
    kubectl("delete", "clusterrolebinding", binding)
    kubectl("delete", "namespace", namespace, "--wait=false")


def test_auth_reconcile(kubectl: Kubectl) -> None:
    namespace = new_namespace(kubectl, "rbac-reconcile")
    manifest = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: config-reader, namespace: {namespace}}}
rules:
- {{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: config-readers, namespace: {namespace}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}}
"""
    output = kubectl("auth", "reconcile", "-f", "-", input=manifest)
    assert "role.rbac.authorization.k8s.io/config-reader reconciled" in output
    assert "rolebinding.rbac.authorization.k8s.io/config-readers reconciled" in output
    assert can_i(kubectl, "list", "configmaps", "-n", namespace, "--as", "carol") == "yes"
    assert can_i(kubectl, "delete", "configmaps", "-n", namespace, "--as", "carol") == "no"
    kubectl("delete", "namespace", namespace, "--wait=false")


def _status(url: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_anonymous_requests_get_what_the_policy_grants(server: RunningServer) -> None:
    assert _status(server.url + "/healthz") == 200
    assert _status(server.url + "/version") == 200
    assert _status(server.url + "/api/v1/namespaces/kube-public/configmaps/cluster-info") == 200
    # kubelite answers 401 (not upstream's 403) where system:anonymous is not allowed
    assert _status(server.url + "/api") == 401
    assert _status(server.url + "/api/v1/namespaces/kube-public/configmaps") == 401
    assert _status(server.url + "/metrics") == 401
