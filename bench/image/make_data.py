"""Writes a small deterministic CSV (no randomness) for the batch-job image."""
import csv
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "data.csv"
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["size", "rooms", "age", "price", "expensive"])
    for i in range(400):
        size = 40 + (i * 37) % 160
        rooms = 1 + (i * 7) % 5
        age = (i * 13) % 60
        price = round(1200 * size + 9000 * rooms - 800 * age + ((i * 31) % 17) * 1000, 2)
        w.writerow([size, rooms, age, price, int(price > 180000)])
