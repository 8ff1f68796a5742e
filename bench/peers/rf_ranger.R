#!/usr/bin/env Rscript
# ranger peer: train on the cached features (bench/.cache/*.npy, written by
# common.py), predict the test rows, print one JSON line.
#
#   Rscript rf_ranger.R --dataset fashion --features raw [--trees 100] [--threads 2] [--seed 1]
#
# Loading the .npy files is outside the timed sections. Peak RSS is the
# process's VmHWM from /proc/self/status.

args <- commandArgs(trailingOnly = TRUE)
opt <- list(dataset = "fashion", features = "raw", trees = "100", threads = "2",
            seed = "1", cache = Sys.getenv("BENCH_CACHE", ""))
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i])
  if (!(key %in% names(opt)) || i == length(args)) {
    stop(sprintf("usage: rf_ranger.R [--dataset fashion|mnist5k] [--features raw|pca10] [--trees N] [--threads N] [--seed S]; bad argument '%s'", args[i]))
  }
  opt[[key]] <- args[i + 1]
  i <- i + 2
}
if (opt$cache == "") {
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  opt$cache <- file.path(dirname(dirname(normalizePath(script))), ".cache")
}

suppressPackageStartupMessages(library(ranger))

# Minimal .npy reader for the C-order uint8/int32/float32/float64 arrays that
# common.py writes.
read_npy <- function(path) {
  con <- file(path, "rb")
  on.exit(close(con))
  magic <- readBin(con, "raw", 6)
  if (!identical(magic, as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)))) stop(path, ": not a .npy file")
  version <- as.integer(readBin(con, "raw", 2))
  hlen <- if (version[1] == 1) readBin(con, "integer", 1, size = 2, signed = FALSE, endian = "little")
          else readBin(con, "integer", 1, size = 4, endian = "little")
  header <- rawToChar(readBin(con, "raw", hlen))
  descr <- sub(".*'descr': *'([^']+)'.*", "\\1", header)
  if (grepl("'fortran_order': *True", header)) stop(path, ": Fortran order not supported")
  shape <- as.integer(strsplit(gsub("[ ()]", "", sub(".*'shape': *\\(([^)]*)\\).*", "\\1", header)), ",")[[1]])
  n <- prod(shape)
  v <- switch(descr,
    "|u1" = readBin(con, "integer", n, size = 1, signed = FALSE),
    "<i4" = readBin(con, "integer", n, size = 4, endian = "little"),
    "<f4" = readBin(con, "double", n, size = 4, endian = "little"),
    "<f8" = readBin(con, "double", n, size = 8, endian = "little"),
    stop(path, ": unsupported dtype ", descr))
  if (length(shape) == 2) matrix(as.numeric(v), nrow = shape[1], ncol = shape[2], byrow = TRUE) else v
}

load_part <- function(split, what) {
  read_npy(file.path(opt$cache, sprintf("%s-%s-%s-%s.npy", opt$dataset, opt$features, split, what)))
}
X <- load_part("train", "X"); colnames(X) <- paste0("f", seq_len(ncol(X)))
y <- factor(load_part("train", "y"))
Xt <- load_part("test", "X"); colnames(Xt) <- colnames(X)
yt <- load_part("test", "y")

t0 <- proc.time()[["elapsed"]]
rf <- ranger(x = X, y = y, num.trees = as.integer(opt$trees), num.threads = as.integer(opt$threads),
             seed = as.integer(opt$seed), verbose = FALSE)
train_s <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
pred <- predict(rf, data = Xt, num.threads = as.integer(opt$threads), verbose = FALSE)$predictions
predict_s <- proc.time()[["elapsed"]] - t0
accuracy <- mean(as.integer(as.character(pred)) == yt)

status <- readLines("/proc/self/status")
hwm_kib <- as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE)))
cat(sprintf(paste0('{"peer": "ranger", "version": "%s", "dataset": "%s", "features": "%s", ',
                   '"train_rows": %d, "columns": %d, "test_rows": %d, "trees": %s, "threads": %s, ',
                   '"accuracy": %.6f, "train_s": %.6f, "predict_s": %.6f, "peak_rss_mib": %.1f}\n'),
            as.character(packageVersion("ranger")), opt$dataset, opt$features, nrow(X), ncol(X),
            nrow(Xt), opt$trees, opt$threads, accuracy, train_s, predict_s, hwm_kib / 1024))
