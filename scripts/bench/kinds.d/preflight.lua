-- scripts/bench/kinds: a CORS preflight from an allowed origin, which the
-- proxy answers itself (204) without a backend.
request = function()
  return "OPTIONS /api/items HTTP/1.1\r\nHost: bench.test\r\nOrigin: https://app.bench.test\r\n" ..
    "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\n\r\n"
end
