#!/usr/bin/env ruby
# examples/test.sh: PROCS processes race Account.find_or_create_by_identifier
# over the same NEW identifiers; exits 1 on any exception or disagreement.
require_relative "account"
require "json"

prefix = ENV.fetch("RACE_PREFIX", "activerecord")
n = Integer(ENV.fetch("RACE_IDENTIFIERS", "200"))
procs = Integer(ENV.fetch("RACE_PROCESSES", "32"))

readers = (0...procs).map do |seed|
  r, w = IO.pipe
  fork do
    r.close
    ActiveRecord::Base.establish_connection(adapter: "postgresql", host: ENV["PGHOST"], port: ENV["PGPORT"],
                                            database: ENV["PGDATABASE"], username: ENV["PGUSER"])
    refs = (0...n).map { |i| "#{prefix}-#{i}" }.shuffle(random: Random.new(seed))
    out = refs.map do |ref|
      begin
        id, created = Account.find_or_create_by_identifier(ref)
        [ref, id, created]
      rescue StandardError => e # the point: there must be none
        [ref, "ERROR #{e.class}: #{e.message}", false]
      end
    end
    w.write(JSON.generate(out))
    w.close
    exit!(0)
  end
  w.close
  r
end
results = readers.map { |r| JSON.parse(r.read) }
Process.waitall
ids = Hash.new { |h, k| h[k] = [] }
created = Hash.new(0)
errors = []
results.each do |out|
  out.each do |ref, id, was_created|
    if id.start_with?("ERROR")
      errors << id
      next
    end
    ids[ref] << id
    created[ref] += 1 if was_created
  end
end
split = ids.count { |_, v| v.uniq.size != 1 }
wrong_created = ids.keys.count { |ref| created[ref] != 1 }
puts "processes #{procs}, identifiers #{ids.size}, calls #{results.sum(&:size)}, exceptions #{errors.size}, " \
     "identifiers with several ids #{split}, created != 1: #{wrong_created}"
errors.first(5).each { |e| puts e }
exit(errors.empty? && split.zero? && wrong_created.zero? && ids.size == n ? 0 : 1)
