# unprobed-ruby: a Sinatra app on WEBrick, on 127.0.0.1:$PORT.
#
# GET /a answers a plain line. GET /b and GET /c load code inside their handlers
# that /a never loads, and answer with what they computed from fixed inputs, so
# every request answers the same bytes. An exception answers 500 with its class
# and message, as an app's catch-all handler would.
require 'sinatra/base'

class ZooApp < Sinatra::Base
  set :environment, :production
  set :bind, '127.0.0.1'
  set :port, Integer(ENV.fetch('PORT'))
  set :server, 'webrick'
  set :logging, false
  set :show_exceptions, false
  set :raise_errors, false

  error do
    failure = env['sinatra.error']
    "error: #{failure.class}: #{failure.message}\n"
  end

  before { content_type 'text/plain' }

  get('/a') { "unprobed-ruby: a\n" }

  get('/b') do
    # Required here, on the first request for /b.
    require 'json'
    require 'digest'
    require 'bigdecimal'
    require 'time'
    [
      'unprobed-ruby: b',
      JSON.generate({ 'legs' => [6, 4, 2], 'name' => 'crane' }),
      Digest::SHA256.hexdigest('whittle unprobed'),
      (BigDecimal('1') / 7).round(20).to_s('F'),
      Time.utc(2000, 1, 1).iso8601
    ].join("\n") + "\n"
  end

  get('/c') { erb "unprobed-ruby: c <%= [6, 4, 2].sum %>\n" }
end

ZooApp.run!
