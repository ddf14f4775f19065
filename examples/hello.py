"""The seed's hello app: `nodicorn examples.hello:my_wsgi_app` (or `--chdir examples hello:my_wsgi_app`)."""


def my_wsgi_app(environ, start_response):
    response_body = b"Hello, WSGI World!"
    status = '200 OK'
    headers = [('Content-Type', 'text/plain')]
    start_response(status, headers)
    return [response_body]


application = my_wsgi_app
