-- scripts/bench/kinds: a GET over HTTP/1.0 that asks to keep the
-- connection alive, as ab -k and old clients send.
request = function()
  return "GET / HTTP/1.0\r\nHost: bench.test\r\nConnection: keep-alive\r\n\r\n"
end
