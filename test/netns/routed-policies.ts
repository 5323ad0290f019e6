/**
 * Policy files the routed lab tests (440-routed-bgp, 445-routed-lab) share, in Calico's
 * resource shape: `role == 'db'` endpoints take TCP 5432 from `role == 'web'` only.
 */
export const DB_INGRESS_POLICY = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: db-ingress
spec:
  order: 10
  selector: role == 'db'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: role == 'web'
      destination:
        ports: [5432]
`;
