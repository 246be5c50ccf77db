"""Controllers as kube-controller-manager's: one generic informer + work-queue loop (base), owner
references and expectations shared by them, an event recorder, and the workload controllers.

Must not import the registry, storage or apiserver: controllers reach the cluster only through
kubelite.client.
"""
