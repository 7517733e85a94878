"""ResMLP: patch tokens mixed by a linear layer across tokens and an MLP across channels, with affine normalization."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 64
DEPTH = 3
GRID = 4
EXPANSION = 2
ACTIVATION = nn.GELU


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Affine(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return self.alpha * x + self.beta


class ResMLPBlock(nn.Module):
    def __init__(self, tokens, channels):
        super().__init__()
        self.norm1 = Affine(channels)
        self.token_mix = nn.Linear(tokens, tokens)
        self.norm2 = Affine(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, channels * EXPANSION), ACTIVATION(), nn.Linear(channels * EXPANSION, channels))

    def forward(self, x):
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp(self.norm2(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        patch = max(1, min(in_shape[2], in_shape[3]) // GRID)
        tokens = (in_shape[2] // patch) * (in_shape[3] // patch)
        channels = WIDTH
        self.stem = nn.Conv2d(in_channels, channels, patch, patch)
        self.body = nn.Sequential(*[ResMLPBlock(tokens, channels) for index in range(DEPTH)])
        self.norm = Affine(channels)
        self.head = nn.Sequential(nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.norm(self.body(x))
        return self.head(x.mean(1))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
