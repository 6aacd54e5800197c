# plot.gp - the plots of a scripts/bench.sh run: gnuplot -e "dir='DIR'" plot.gp
# Reads DIR/plot/<test>.dat (tests/bench/summary.py): columns
#   1 size  2 vipl 3 min 4 max  5 twin 6 min 7 max  8 ratio 9 min 10 max
#   11 perftest  12 fi_pingpong
if (!exists("dir")) dir = "build/bench"
set terminal pngcairo size 1000,420 font ",10" noenhanced
set logscale x 2
set format x "%.0b%BB"
set xlabel "message size (bytes)"
set grid
set key top left
d(t) = sprintf("%s/plot/%s.dat", dir, t)

set output dir."/latency.png"
set multiplot layout 1,2 title "one-way latency (median of each run, median over runs; bars: range)"
set logscale y
set ylabel "microseconds"
set title "send/receive ping-pong"
plot d("lat_send") u 1:2:3:4 w yerrorlines t "libvipl", \
     "" u 1:5:6:7 w yerrorlines t "raw-verbs twin", \
     "" u 1:11 w lp t "ib_send_lat (t_typical)", \
     "" u 1:12 w lp t "fi_pingpong verbs (mean)"
set title "RDMA-write ping-pong"
plot d("lat_write") u 1:2:3:4 w yerrorlines t "libvipl", \
     "" u 1:5:6:7 w yerrorlines t "raw-verbs twin", \
     "" u 1:11 w lp t "ib_write_lat (t_typical)"
unset multiplot

set output dir."/bandwidth.png"
set multiplot layout 1,2 title "bandwidth, 64 operations in flight (MB/s = 2^20 B/s)"
set ylabel "MB/s"
set title "send"
plot d("bw_send") u 1:2:3:4 w yerrorlines t "libvipl", \
     "" u 1:5:6:7 w yerrorlines t "raw-verbs twin", \
     "" u 1:11 w lp t "ib_send_bw"
set title "RDMA write"
plot d("bw_write") u 1:2:3:4 w yerrorlines t "libvipl", \
     "" u 1:5:6:7 w yerrorlines t "raw-verbs twin", \
     "" u 1:11 w lp t "ib_write_bw"
unset multiplot

set output dir."/ratio.png"
set terminal pngcairo size 1000,420 font ",10" noenhanced
unset logscale y
set yrange [0.5:2]
set ylabel "libvipl / twin"
set title "libvipl over its raw-verbs twin, run back to back (median of the per-rep ratios; bars: range, clipped to 0.5-2)"
set key top right
plot d("lat_send") u 1:8:9:10 w yerrorlines t "latency, send", \
     d("lat_write") u 1:8:9:10 w yerrorlines t "latency, RDMA write", \
     d("bw_send") u 1:8:9:10 w yerrorlines t "bandwidth, send", \
     d("bw_write") u 1:8:9:10 w yerrorlines t "bandwidth, RDMA write", \
     1.02 w l dt 2 lc rgb "red" t "latency target 1.02", \
     0.99 w l dt 2 lc rgb "blue" t "bandwidth target 0.99"
