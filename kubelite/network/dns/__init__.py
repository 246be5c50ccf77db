"""Cluster DNS, as CoreDNS's kubernetes plugin answers it: records built from Services,
EndpointSlices, Pods and Namespaces (records.py), the answer table and its NXDOMAIN/NODATA rules
(table.py), a UDP + TCP server (server.py) that forwards other names to the host's resolvers
(forward.py), the component keeping the table in step with the API (component.py), the
`kube-dns` Service (service.py), and the pods' /etc/resolv.conf as the kubelet writes it
(resolvconf.py).

Talks to the cluster only through kubelite.client; must not import the registry or storage.
"""
