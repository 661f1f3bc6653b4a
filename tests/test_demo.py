import re

from skvae.__main__ import main


def test_demo_prints_both_workflows_numbers(capsys):
    main()
    out = capsys.readouterr().out
    vae_mse = float(re.search(r"VAETransformer.*MSE (\d\.\d+)", out).group(1))
    pca_mse = float(re.search(r"PCA.*MSE (\d\.\d+)", out).group(1))
    auc = float(re.search(r"ROC AUC (\d\.\d+)", out).group(1))
    assert vae_mse < 1.5 * pca_mse
    assert auc > 0.95
