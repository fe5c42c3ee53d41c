// Stands in for Node built-ins ('fs', 'path', 'os', 'perf_hooks') and 'seedrandom' that TF.js's ES
// module builds name but use only in Node or in random ops, which scoring never runs.
export default {};
