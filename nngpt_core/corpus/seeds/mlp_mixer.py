"""MLP-Mixer: patches become tokens; blocks alternate an MLP across tokens and an MLP across channels."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 64
DEPTH = 4
GRID = 4
EXPANSION = 2
ACTIVATION = nn.GELU
NORM = nn.LayerNorm


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class MLP(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = ACTIVATION()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MixerBlock(nn.Module):
    def __init__(self, tokens, channels):
        super().__init__()
        self.norm1 = NORM(channels)
        self.token_mlp = MLP(tokens, tokens * EXPANSION)
        self.norm2 = NORM(channels)
        self.channel_mlp = MLP(channels, channels * EXPANSION)

    def forward(self, x):
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


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
        self.body = nn.Sequential(*[MixerBlock(tokens, channels) for index in range(DEPTH)])
        self.norm = NORM(channels)
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
