#!/usr/bin/perl
# unprobed-perl: an HTTP::Daemon app on 127.0.0.1:$PORT.
#
# GET /a answers a plain line. GET /b and GET /c load modules inside their
# handlers that /a never loads, and answer with what they computed from fixed
# inputs, so every request answers the same bytes. A handler that dies answers
# 500 with the error, as an app's catch-all handler would.
use strict;
use warnings;
use HTTP::Daemon;
use HTTP::Response;

sub answer_b {
    # Loaded here, on the first request for /b.
    require HTTP::Request::Common;
    require LWP::MediaTypes;
    require URI;
    require URI::QueryParam;
    require Digest::SHA;
    my $form = HTTP::Request::Common::POST('http://zoo.example/animals', [name => 'brown bear', legs => 4]);
    my $query = URI->new('http://zoo.example/?a=1&b=2&a=3');
    return join("\n",
        'unprobed-perl: b',
        $form->content,
        LWP::MediaTypes::guess_media_type('report.pdf'),
        join(',', $query->query_param('a')),
        Digest::SHA::sha256_hex('whittle unprobed'),
    ) . "\n";
}

sub answer_c {
    require JSON::PP;
    my $json = JSON::PP->new->canonical;
    return "unprobed-perl: c\n" . $json->encode({ legs => [6, 4, 2], name => 'crane' }) . "\n";
}

my %routes = ('/a' => sub { "unprobed-perl: a\n" }, '/b' => \&answer_b, '/c' => \&answer_c);
my $daemon = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => $ENV{PORT}, ReuseAddr => 1)
    or die "cannot listen on port $ENV{PORT}: $!\n";
print "listening on 127.0.0.1:$ENV{PORT}\n";
$| = 1;
while (my $connection = $daemon->accept) {
    while (my $request = $connection->get_request) {
        my $route = $routes{$request->uri->path};
        my ($status, $body) = (404, "not found\n");
        if ($route) {
            $body = eval { $route->() };
            $status = defined $body ? 200 : 500;
            $body = "error: $@" unless defined $body;
        }
        my $response = HTTP::Response->new($status);
        $response->header('Content-Type' => 'text/plain');
        $response->content($body);
        $connection->send_response($response);
    }
    $connection->close;
}
