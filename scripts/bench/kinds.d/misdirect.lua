-- scripts/bench/kinds: a request for a host no app claims, which the
-- proxy answers 421 without a backend.
request = function()
  return "GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n"
end
