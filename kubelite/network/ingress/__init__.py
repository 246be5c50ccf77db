"""The ingress controller: networking.k8s.io/v1 Ingresses of the `nginx` IngressClass (controller
`kubelite.io/ingress-nginx`) served by a real nginx the controller runs as its child.

classes.py says which Ingresses are ours, model.py turns them into servers, locations and
upstreams, config.py renders nginx.conf, tls.py makes the fallback certificate, process.py runs
nginx, controller.py is the component tying them to the API.

Talks to the cluster only through kubelite.client; must not import the registry or storage.
"""
