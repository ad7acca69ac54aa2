-- scripts/bench/kinds: the plain HTTP/1.1 GET of scripts/bench/proxy, for
-- a before/after of the loops' main path in the same run as the others.
request = function()
  return "GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n"
end
