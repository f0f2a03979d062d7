"""Batch job: train small models on /job/data.csv and print predictions."""
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

df = pd.read_csv("/job/data.csv")
X = df[["size", "rooms", "age"]]
print(f"rows={len(df)} mean_price={df['price'].mean():.2f}")

X_tr, X_te, y_tr, y_te = train_test_split(X, df["price"], test_size=0.25, random_state=0)
reg = make_pipeline(StandardScaler(), LinearRegression()).fit(X_tr, y_tr)
print(f"linear r2={reg.score(X_te, y_te):.6f}")
for row, pred in zip(X_te.head(5).itertuples(index=False), reg.predict(X_te.head(5))):
    print(f"price{tuple(row)} -> {pred:.2f}")

clf = RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=1)
clf.fit(X_tr, df.loc[X_tr.index, "expensive"])
acc = clf.score(X_te, df.loc[X_te.index, "expensive"])
print(f"forest accuracy={acc:.4f}")
print("classes:", " ".join(str(int(c)) for c in clf.predict(X_te.head(10))))
