"""Node networking: the service proxy (Service virtual IPs as one nftables table), the host settings
it needs (sysctls, a local route for the service CIDR), conntrack cleanup, and the ServiceLB
status writer for LoadBalancer Services.

Talks to the cluster only through kubelite.client; must not import the registry or storage.
"""
