// The cluster example's entry under the name every example has (the examples test starts examples/<name>/server.mjs):
// it is start.mjs, which starts redis-server, two event-flare nodes and the balancer. See start.mjs.
import "./start.mjs";
